"""``toolcall build``: normalize sources into a Hub-ready dataset folder (the bundled examples by default)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from pathlib import Path

from ..build.builder import NothingBuilt, SourceSpec, build_dataset, spec_from_cli
from ..build.card import bfcl_training
from ..build.dataset_info import expand_sources
from ..build.options import parse_option, with_option
from ..build.readers import SourceError
from ..build.recipe import example_sources, read_recipe
from ..build.settings import NEAR_DUPLICATE_MODES, BuildSettings, reference_spec
from ..output_dir import HELP as OUTPUT_HELP
from ..sources import list_formats

EXIT_CODES = ("Exit codes: 0 built; 1 nothing usable (every record empty, unreadable, rejected, duplicate or removed: "
              "nothing is written); 2 bad options or input (unreadable source, unknown option, refused --out). Errors "
              "are one line on stderr; a failed run leaves no partial folder and an earlier output as it was.")
FOLDERS = ("A LLaMA-Factory data folder (or its dataset_info.json) is read through dataset_info.json: each registered "
           "sharegpt dataset with tool data becomes a config named after its entry, with its columns and tags; "
           "unregistered files are not read. CONFIG=FOLDER:ENTRY reads one entry into config CONFIG. A BFCL data "
           "folder (question/ or BFCL_v*_*.json, possible_answer/, multi_turn_func_doc/) is one bfcl source: answers "
           "and docs are joined, not counted as records.")
CURATION = ("Every record is accounted for: in = out + rejected + duplicates + contaminated + near duplicates removed "
            "+ capped, and out = train + test (build_report.json). Eval configs (--eval-config, recipe `eval: true`) "
            "go to split test, stay out of `default`, and the other configs are decontaminated against them and "
            "against every --decontaminate set. A recipe's decontamination, near_duplicates, test_fraction, plots and "
            "per-source max_rows, weight and eval are overridden by the flags below.")


def paragraphs(*texts: str) -> str:
    """Help text of several paragraphs, each wrapped to the terminal (for ``RawDescriptionHelpFormatter``)."""
    width = min(shutil.get_terminal_size().columns, 120) - 2
    return "\n\n".join(textwrap.fill(text, width) for text in texts)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build", help="build the unified dataset folder", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraphs(
            "Normalize tool-calling sources into one canonical dataset folder (parquet per config, README.md card, "
            "build_report.json, rejects/). With no --source/--recipe, builds the bundled examples into "
            "./toolcall-unified.", FOLDERS, CURATION, OUTPUT_HELP, EXIT_CODES))
    parser.add_argument("--source", action="append", default=[], metavar="CONFIG=PATH",
                        help="a source: local file/folder (FOLDER:ENTRY for one LLaMA-Factory dataset) or Hub "
                             "dataset id (repeatable)")
    parser.add_argument("--format", action="append", default=[], metavar="CONFIG=FMT",
                        help=f"source format of a config (default: detected per file); one of {', '.join(list_formats())}")
    parser.add_argument("--option", action="append", default=[], metavar="CONFIG.KEY=VALUE",
                        help="a format option of a config, merged into its options like a recipe's `options:` "
                             "(repeatable); a dotted KEY nests and VALUE is JSON when it parses, e.g. "
                             "--option glaive.tags.role_tag=speaker --option glaive.columns.messages=dialog")
    parser.add_argument("--recipe", help="YAML recipe listing the sources (e.g. dataset_scripts/recipe.yaml)")
    parser.add_argument("--out", default="toolcall-unified", help="output folder (default: ./toolcall-unified)")
    parser.add_argument("--overwrite", action="store_true",
                        help="also write into an existing folder that toolcall did not write (never into an input)")
    parser.add_argument("--repo-id", metavar="ORG/NAME", help="Hub dataset repository the card's examples name")
    parser.add_argument("--strict", action="store_true",
                        help="reject rows with undeclared tools or arguments that violate the tool schema")
    parser.add_argument("--num-proc", type=int, default=1, help="worker processes for normalization")
    parser.add_argument("--license", help="license recorded for --source configs")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_curation_arguments(parser)
    parser.set_defaults(run=run)


def _add_curation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("decontamination, near duplicates, split, mix and plots")
    group.add_argument("--decontaminate", action="append", default=[], metavar="PATH_OR_ID",
                       help="an evaluation set to remove matching training rows for (repeatable, added to the "
                            "recipe's): a BFCL folder or question file, any file or folder of records, a .txt file "
                            "(one item per line), or a Hub dataset id (its files are downloaded)")
    group.add_argument("--no-decontaminate", action="store_true",
                       help="no decontamination at all (not even against eval configs)")
    group.add_argument("--decontaminate-ngram", type=int, metavar="N",
                       help="word n-gram size of the overlap match (default 13, as GPT-3; 0: exact match only)")
    group.add_argument("--decontaminate-min-overlap", type=float, metavar="F",
                       help="share of an evaluation turn's n-grams a training turn must contain (default 0: one "
                            "shared n-gram is enough)")
    group.add_argument("--near-duplicates", choices=NEAR_DUPLICATE_MODES,
                       help="MinHash/LSH near duplicates over user turns and calls: report per source pair "
                            "(default), remove (keep the first by recipe order), or off")
    group.add_argument("--near-duplicate-threshold", type=float, metavar="F",
                       help="estimated Jaccard similarity that makes a near duplicate (default 0.8)")
    group.add_argument("--test-fraction", type=float, metavar="F",
                       help="share of each training config held out as split test, by row id hash (default 0)")
    group.add_argument("--max-rows", action="append", default=[], metavar="CONFIG=N",
                       help="keep at most N rows of a config (its first, after the removals; repeatable)")
    group.add_argument("--weight", action="append", default=[], metavar="CONFIG=W",
                       help="mixing weight of a config in the default train split (repeatable; default 1)")
    group.add_argument("--eval-config", action="append", default=[], metavar="CONFIG",
                       help="mark a config as evaluation data (split test only, not in default; repeatable)")
    group.add_argument("--plot-tokenizer", metavar="PATH_OR_ID",
                       help="tokenizer for the card's tokens-per-row plot (skipped without one)")


def cli_sources(sources: list[str], formats: list[str], options: list[str], *, license: str | None = None,
                ) -> list[SourceSpec]:
    """The specs of ``--source`` values with their ``--format`` and ``--option`` values applied (configs as
    named on the command line; LLaMA-Factory folders are expanded later)."""
    format_of = {}
    for value in formats:
        config, sep, fmt = value.partition("=")
        if not sep:
            raise SourceError(f"--format expects CONFIG=FMT, got {value!r}")
        format_of[config] = fmt
    specs = [spec_from_cli(value, format_of, license=license) for value in sources]
    unknown = set(format_of) - {spec.config for spec in specs}
    if unknown:
        raise SourceError(f"--format names configs without a --source: {sorted(unknown)}")
    return apply_options(specs, options)


def apply_options(specs: list[SourceSpec], options: list[str]) -> list[SourceSpec]:
    """``--option CONFIG.KEY=VALUE`` values merged into the options of the named specs."""
    by_config = {spec.config: spec for spec in specs}
    for text in options:
        config, keys, value = parse_option(text, list(by_config))
        by_config[config].options = with_option(by_config[config].options, keys, value)
    return specs


def _sources(args: argparse.Namespace) -> tuple[str, list[SourceSpec], list[str], BuildSettings]:
    """``(title, specs, notes, settings)``: the configs to build, LLaMA-Factory folders expanded, and the build
    settings (the recipe's, with the flags applied)."""
    if args.recipe and args.source:
        raise SourceError("give either --recipe or --source, not both")
    settings = BuildSettings()
    if args.recipe:
        recipe = read_recipe(args.recipe)
        title, specs, settings = recipe.title, recipe.sources, recipe.settings
        specs = apply_options(specs, args.option)
    elif args.source:
        title, specs = Path(args.out).expanduser().resolve().name, cli_sources(
            args.source, args.format, args.option, license=args.license)
    else:
        title, specs = "toolcall-unified", apply_options(example_sources(), args.option)
    if args.format and not args.source:
        raise SourceError("--format applies to --source configs (a recipe names each source's format)")
    specs, notes = expand_sources(specs)
    apply_curation(specs, settings, args)
    return (args.repo_id.rsplit("/", 1)[-1] if args.repo_id else title), specs, notes, settings


def apply_curation(specs: list[SourceSpec], settings: BuildSettings, args: argparse.Namespace) -> None:
    """The curation flags applied on top of the recipe's values (ValueError for a config no source has)."""
    by_config = {spec.config: spec for spec in specs}
    for flag, values, field, convert in (("--max-rows", args.max_rows, "max_rows", int),
                                         ("--weight", args.weight, "weight", float)):
        for text in values:
            config, sep, value = text.partition("=")
            if not sep or config not in by_config:
                raise ValueError(f"{flag} expects CONFIG={field.upper()} with one of the configs "
                                 f"({', '.join(by_config)}), got {text!r}")
            try:
                setattr(by_config[config], field, convert(value))
            except ValueError:
                kind = "a whole number" if convert is int else "a number"
                raise ValueError(f"{flag} {text!r}: {value!r} is not {kind}") from None
    for config in args.eval_config:
        if config not in by_config:
            raise ValueError(f"--eval-config {config!r} names no source config; configs: {', '.join(by_config)}")
        by_config[config].eval = True
    decontamination = settings.decontamination
    decontamination.references += [reference_spec(path, "--decontaminate") for path in args.decontaminate]
    decontamination.enabled = decontamination.enabled and not args.no_decontaminate
    for value, target, name in ((args.decontaminate_ngram, decontamination, "ngram"),
                                (args.decontaminate_min_overlap, decontamination, "min_overlap"),
                                (args.near_duplicates, settings.near_duplicates, "mode"),
                                (args.near_duplicate_threshold, settings.near_duplicates, "threshold"),
                                (args.test_fraction, settings, "test_fraction"),
                                (args.plot_tokenizer, settings, "plot_tokenizer")):
        if value is not None:
            setattr(target, name, value)


def run(args: argparse.Namespace) -> int:
    try:
        title, specs, notes, settings = _sources(args)
        for note in notes:
            print(note, file=sys.stderr)
        result = build_dataset(specs, args.out, strict=args.strict, num_proc=args.num_proc,
                               progress=not args.no_progress, title=title, overwrite=args.overwrite,
                               repo_id=args.repo_id, protect=[args.recipe] if args.recipe else (), settings=settings)
    except NothingBuilt as exc:
        print(f"toolcall build: error: {exc}", file=sys.stderr)
        return 1
    except (SourceError, ValueError, OSError) as exc:
        print(f"toolcall build: error: {exc}", file=sys.stderr)
        return 2
    report = result.report
    print_table(report)
    for config in bfcl_training(result.stats):
        print(f"warning: {config}: BFCL evaluation data built for training; mark it --eval-config {config} (recipe "
              "`eval: true`) to keep it out of training and decontaminate the other configs against it",
              file=sys.stderr)
    print(f"wrote {result.out_dir} (load it with datasets.load_dataset({json.dumps(str(result.out_dir))}))")
    return 0


TABLE_COLUMNS = (("in", "records_in"), ("out", "rows_out"), ("test", "rows_test"), ("rejected", "rejected"),
                 ("duplicates", "duplicates_removed"), ("instr.removed", "instructions_removed"),
                 ("contaminated", "contaminated"), ("near-dup", "near_duplicates_found"), ("capped", "capped"),
                 ("warnings", "warnings"))
"""The printed table: header and report key per column (``near-dup`` counts the rows with an earlier near
duplicate; ``(N removed)`` follows when they were removed)."""


def print_table(report: dict) -> None:
    """Per source and in total: records in, rows out (of which test), and every kind of removal."""
    width = max(len("config"), len("total"), *(len(s["config"]) + 6 * s["eval"] for s in report["sources"]))
    print(f"{'config':<{width}}  " + "  ".join(f"{header:>{max(len(header), 7)}}" for header, _ in TABLE_COLUMNS))
    for source in report["sources"]:
        values = dict(source, instructions_removed=source["format_instructions"].get("removed", 0))
        name = source["config"] + (" (eval)" if source["eval"] else "")
        print(_table_row(name, width, values))
        for unreadable in source["unreadable_files"]:
            print(f"warning: {source['config']}: unreadable file, no record read: {unreadable['reason']}",
                  file=sys.stderr)
        if not source["rows_out"]:
            print(f"warning: {source['config']}: no rows (its records were empty, rejected, duplicates or removed)",
                  file=sys.stderr)
    print(_table_row("total", width, report["totals"]))
    removed = report["totals"]["near_duplicates_removed"]
    if removed:
        print(f"near duplicates removed: {removed} (kept in near_duplicates/<config>.jsonl)")


def _table_row(name: str, width: int, values: dict) -> str:
    return f"{name:<{width}}  " + "  ".join(f"{values[key]:>{max(len(header), 7)}}" for header, key in TABLE_COLUMNS)
