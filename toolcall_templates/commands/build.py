"""``toolcall build``: normalize sources into a Hub-ready dataset folder (the bundled examples by default)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from pathlib import Path

from ..build.builder import NothingBuilt, SourceSpec, build_dataset, spec_from_cli
from ..build.dataset_info import expand_sources
from ..build.options import parse_option, with_option
from ..build.readers import SourceError
from ..build.recipe import example_sources, load_recipe
from ..output_dir import HELP as OUTPUT_HELP
from ..sources import list_formats

EXIT_CODES = ("Exit codes: 0 built; 1 nothing usable (every record empty, unreadable, rejected or duplicate: nothing "
              "is written); 2 bad options or input (unreadable source, unknown option, refused --out). Errors are "
              "one line on stderr; a failed run leaves no partial folder and an earlier output as it was.")
FOLDERS = ("A LLaMA-Factory data folder (or its dataset_info.json) is read through dataset_info.json: each registered "
           "sharegpt dataset with tool data becomes a config named after its entry, with its columns and tags; "
           "unregistered files are not read. CONFIG=FOLDER:ENTRY reads one entry into config CONFIG. A BFCL data "
           "folder (question/ or BFCL_v*_*.json, possible_answer/, multi_turn_func_doc/) is one bfcl source: answers "
           "and docs are joined, not counted as records.")


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
            "./toolcall-unified.", FOLDERS, OUTPUT_HELP, EXIT_CODES))
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
    parser.set_defaults(run=run)


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


def _sources(args: argparse.Namespace) -> tuple[str, list[SourceSpec], list[str]]:
    """``(title, specs, notes)``: the configs to build, LLaMA-Factory folders expanded."""
    if args.recipe and args.source:
        raise SourceError("give either --recipe or --source, not both")
    if args.recipe:
        title, specs = load_recipe(args.recipe)
        specs = apply_options(specs, args.option)
    elif args.source:
        title, specs = Path(args.out).expanduser().resolve().name, cli_sources(
            args.source, args.format, args.option, license=args.license)
    else:
        title, specs = "toolcall-unified", apply_options(example_sources(), args.option)
    if args.format and not args.source:
        raise SourceError("--format applies to --source configs (a recipe names each source's format)")
    specs, notes = expand_sources(specs)
    return (args.repo_id.rsplit("/", 1)[-1] if args.repo_id else title), specs, notes


def run(args: argparse.Namespace) -> int:
    try:
        title, specs, notes = _sources(args)
        for note in notes:
            print(note, file=sys.stderr)
        result = build_dataset(specs, args.out, strict=args.strict, num_proc=args.num_proc,
                               progress=not args.no_progress, title=title, overwrite=args.overwrite,
                               repo_id=args.repo_id, protect=[args.recipe] if args.recipe else ())
    except NothingBuilt as exc:
        print(f"toolcall build: error: {exc}", file=sys.stderr)
        return 1
    except (SourceError, ValueError, OSError) as exc:
        print(f"toolcall build: error: {exc}", file=sys.stderr)
        return 2
    report = result.report
    totals = report["totals"]
    for source in report["sources"]:
        print(f"{source['config']:<20} in {source['records_in']:>7}  out {source['rows_out']:>7}  "
              f"rejected {source['rejected']:>5}  duplicates {source['duplicates_removed']:>5}  "
              f"warnings {source['warnings']:>5}")
        for unreadable in source["unreadable_files"]:
            print(f"warning: {source['config']}: unreadable file, no record read: {unreadable['reason']}",
                  file=sys.stderr)
        if not source["rows_out"]:
            print(f"warning: {source['config']}: no rows (its records were empty, rejected or duplicates)",
                  file=sys.stderr)
    print(f"{'total':<20} in {totals['records_in']:>7}  out {totals['rows_out']:>7}  rejected {totals['rejected']:>5}  "
          f"duplicates {totals['duplicates_removed']:>5}  warnings {totals['warnings']:>5}")
    print(f"wrote {result.out_dir} (load it with datasets.load_dataset({json.dumps(str(result.out_dir))}))")
    return 0
