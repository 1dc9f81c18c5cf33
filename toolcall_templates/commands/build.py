"""``toolcall build``: normalize sources into a Hub-ready dataset folder (the bundled examples by default)."""

from __future__ import annotations

import argparse
import json
import sys

from ..build.builder import SourceSpec, build_dataset, spec_from_cli
from ..build.readers import SourceError
from ..build.recipe import example_sources, load_recipe
from ..sources import list_formats


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build", help="build the unified dataset folder",
        description="Normalize tool-calling sources into one canonical dataset folder (parquet per config, "
                    "README.md card, build_report.json, rejects/). With no --source/--recipe, builds the bundled "
                    "examples into ./toolcall-unified.")
    parser.add_argument("--source", action="append", default=[], metavar="CONFIG=PATH",
                        help="a source: local file/folder or Hub dataset id (repeatable)")
    parser.add_argument("--format", action="append", default=[], metavar="CONFIG=FMT",
                        help=f"source format of a config (default: detected per file); one of {', '.join(list_formats())}")
    parser.add_argument("--recipe", help="YAML recipe listing the sources (e.g. dataset_scripts/recipe.yaml)")
    parser.add_argument("--out", default="toolcall-unified", help="output folder (default: ./toolcall-unified)")
    parser.add_argument("--strict", action="store_true",
                        help="reject rows with undeclared tools or arguments that violate the tool schema")
    parser.add_argument("--num-proc", type=int, default=1, help="worker processes for normalization")
    parser.add_argument("--license", help="license recorded for --source configs")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(run=run)


def _sources(args: argparse.Namespace) -> tuple[str, list[SourceSpec]]:
    if args.recipe and args.source:
        raise SourceError("give either --recipe or --source, not both")
    if args.recipe:
        return load_recipe(args.recipe)
    formats = {}
    for value in args.format:
        config, sep, fmt = value.partition("=")
        if not sep:
            raise SourceError(f"--format expects CONFIG=FMT, got {value!r}")
        formats[config] = fmt
    if args.source:
        specs = [spec_from_cli(value, formats, license=args.license) for value in args.source]
        unknown = set(formats) - {spec.config for spec in specs}
        if unknown:
            raise SourceError(f"--format names configs without a --source: {sorted(unknown)}")
        return "toolcall-unified", specs
    return "toolcall-unified", example_sources()


def run(args: argparse.Namespace) -> int:
    try:
        title, specs = _sources(args)
        result = build_dataset(specs, args.out, strict=args.strict, num_proc=args.num_proc,
                               progress=not args.no_progress, title=title)
    except (SourceError, ValueError, FileNotFoundError) as exc:
        print(f"toolcall build: error: {exc}", file=sys.stderr)
        return 2
    report = result.report
    totals = report["totals"]
    for source in report["sources"]:
        print(f"{source['config']:<20} in {source['records_in']:>7}  out {source['rows_out']:>7}  "
              f"rejected {source['rejected']:>5}  duplicates {source['duplicates_removed']:>5}  "
              f"warnings {source['warnings']:>5}")
    print(f"{'total':<20} in {totals['records_in']:>7}  out {totals['rows_out']:>7}  rejected {totals['rejected']:>5}  "
          f"duplicates {totals['duplicates_removed']:>5}  warnings {totals['warnings']:>5}")
    print(f"wrote {result.out_dir} (load it with datasets.load_dataset({json.dumps(str(result.out_dir))}))")
    return 0
