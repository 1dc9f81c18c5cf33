"""``toolcall tokenize``: tokenize a built dataset folder with exact label masks, and report every drop.

    toolcall tokenize --in toolcall-unified [--config NAME] --tokenizer PATH_OR_ID [--template NAME]
                      [--max-length N] [--streaming] --out tokenized/

Reads ``data/<config>/*.parquet`` as written by ``toolcall build`` (every config when ``--config`` is omitted), or
raw sources (any file or folder ``toolcall build`` reads, normalized on the way, ``--format`` optional), writes the
tokenized dataset (``save_to_disk``, or parquet shards with ``--save-format parquet``) and ``tokenize_report.json``
(rows in and out, drops by reason with examples, truncations, control tokens, options, normalization counts).
The output folder follows the rules of ``output_dir``; a run that keeps no row writes nothing and exits 1.
``--streaming`` reads the parquet rows lazily and writes parquet shards as rows are tokenized, with bounded memory
(raw sources are built into a temporary folder first, as without it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..build.builder import NothingBuilt
from ..build.readers import SourceError
from ..output_dir import HELP as OUTPUT_HELP
from ..output_dir import check_output, manifest_files, staged_output
from ..sources import list_formats
from ..tokenization.control_tokens import CONTROL_TOKEN_POLICIES
from .build import paragraphs
from ..tokenization.conversation_encoder import TRAIN_ON
from ..templates import list_templates
from ..tokenization.truncation import TRUNCATION_POLICIES
from ..tokenization.turn_encoder import HISTORY_POLICIES

REPORT_NAME = "tokenize_report.json"
_CANONICAL_COLUMNS = {"id", "tools", "messages"}


class NothingKept(RuntimeError):
    """Every row was dropped: there is nothing to write (nothing was written)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tokenize", help="tokenize a dataset folder with exact label masks",
        description=paragraphs(
            "Tokenize the canonical rows of a dataset folder (as written by `toolcall build`), or raw sources "
            "normalized on the way, into input_ids / attention_mask / labels, and write the result with a JSON report "
            "of counts and drops.", OUTPUT_HELP + " Inputs are --in and a local --tokenizer.",
            "Exit codes: 0 written; 1 every row dropped or rejected (nothing is written); 2 bad options or input "
            "(refused --out, unreadable input or tokenizer)."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in", dest="input", required=True, metavar="PATH",
                        help="dataset folder (data/<config>/*.parquet), a canonical parquet file, or raw source "
                             "records (a file or folder as `toolcall build --source` reads them)")
    parser.add_argument("--format", dest="fmt", help=f"source format of raw --in records (default: detected); one of "
                        f"{', '.join(list_formats())}")
    parser.add_argument("--config", help="only this config of the folder (default: all)")
    parser.add_argument("--tokenizer", required=True, help="tokenizer path or Hub id")
    parser.add_argument("--template", help=f"template name; one of {', '.join(list_templates())}, or 'own' for the "
                        "tokenizer's own chat template as it is (default: detected from the tokenizer; a tokenizer "
                        "whose template is not a shipped one uses its own)")
    parser.add_argument("--stop-token", dest="stop_tokens", action="append", metavar="TOKEN",
                        help="with the tokenizer's own template: a token that ends an assistant turn (repeatable; "
                             "default: the tokenizer's eos token(s) and generation config, and the template's "
                             "end-of-turn token)")
    parser.add_argument("--history", choices=HISTORY_POLICIES, default="split",
                        help="a conversation one row cannot hold exactly (its template renders history otherwise "
                             "than the model saw it): one row per run of turns that chain (split, default) or drop it")
    parser.add_argument("--max-length", type=int, help="longest sequence; longer rows follow --truncation")
    parser.add_argument("--truncation", choices=TRUNCATION_POLICIES, default="drop",
                        help="what to do with rows longer than --max-length (default: drop)")
    parser.add_argument("--train-on", choices=TRAIN_ON, default="assistant", help="which assistant turns are trained")
    parser.add_argument("--control-tokens", choices=CONTROL_TOKEN_POLICIES, default="reject",
                        help="literal control tokens in the text: reject the row (default) or escape them")
    parser.add_argument("--pack", action="store_true", help="pack rows into --max-length bins (best fit decreasing)")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                        help="template render argument (VALUE parsed as JSON when possible), e.g. date_string=...")
    parser.add_argument("--num-proc", type=int, help="worker processes")
    parser.add_argument("--batch-size", type=int, default=256, help="rows per tokenizer call")
    parser.add_argument("--save-format", choices=("disk", "parquet"),
                        help="save_to_disk folder (default) or parquet shards under data/ (--streaming: parquet)")
    parser.add_argument("--streaming", action="store_true",
                        help="read the input lazily and write parquet shards under data/ as rows are tokenized, "
                             "with bounded memory (same rows and report; --pack packs --pack-buffer rows at a time)")
    parser.add_argument("--pack-buffer", type=int, default=1000, metavar="N",
                        help="with --streaming --pack: rows packed together at a time (default: 1000)")
    parser.add_argument("--out", required=True, metavar="DIR2", help="output folder (see above)")
    parser.add_argument("--overwrite", action="store_true",
                        help="also write into an existing folder that toolcall did not write (never into an input)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.pack and args.max_length is None:
            raise ValueError("--pack needs --max-length")
        if args.streaming and args.save_format == "disk":
            raise ValueError("--streaming writes parquet shards; --save-format disk needs the whole dataset in memory")
        check_output(args.out, _inputs(args), overwrite=args.overwrite)
        with canonical_files(args) as (files, normalized):
            report = tokenize_folder(args, files, normalized)
    except (NothingKept, NothingBuilt) as exc:
        print(f"toolcall tokenize: error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError, SourceError) as exc:
        print(f"toolcall tokenize: error: {exc}", file=sys.stderr)
        return 2
    if report.get("normalize"):
        counts = report["normalize"]
        print(f"normalized {counts['rows_out']}/{counts['records_in']} records ({counts['rejected']} rejected, "
              f"{counts['duplicates_removed']} duplicates)")
    rows = (f" as {report['rows_out']} training rows" if report["rows_out"] != report["conversations_kept"] else "")
    print(f"{report['conversations_kept']}/{report['rows_in']} rows kept{rows}, {report['tokens']} tokens "
          f"({report['trained_tokens']} trained)")
    if set(report["history"]) - {"exact"}:
        print("  conversations " + ", ".join(f"{kind}: {count}" for kind, count in report["history"].items()))
    for reason, count in report["turns_left_out"].items():
        print(f"  turns left out {reason}: {count}")
    for reason, count in report["dropped"].items():
        print(f"  dropped {reason}: {count}")
    for policy, count in report["truncated"].items():
        print(f"  truncated ({policy}): {count}")
    print(f"wrote {args.out} and {Path(args.out) / REPORT_NAME}")
    return 0


def _inputs(args: argparse.Namespace) -> list[str]:
    """The local paths the output must stay clear of: ``--in`` and a local ``--tokenizer`` folder."""
    return [args.input, args.tokenizer]


def is_built_input(path: Path) -> bool:
    """A folder written by ``toolcall build`` (``data/<config>/*.parquet``), or a parquet file of canonical rows."""
    if path.is_dir():
        return (path / "build_report.json").is_file() or next(path.glob("data/*/*.parquet"), None) is not None
    if path.suffix != ".parquet":
        return False
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable files
        raise ValueError(f"{path} is not a readable parquet file: {exc}") from None
    return _CANONICAL_COLUMNS <= names


@contextmanager
def canonical_files(args: argparse.Namespace) -> Iterator[tuple[list[str], dict[str, Any] | None]]:
    """``(parquet files of canonical rows, normalization counts or None)``. Raw sources are built into a temporary
    folder first, with the same readers, normalizers and accounting as ``toolcall build``."""
    path = Path(args.input)
    if not path.exists():
        raise ValueError(f"{path} is neither a dataset folder nor a file")
    if is_built_input(path):
        if args.fmt:
            raise ValueError(f"--format applies to raw source records; {path} holds canonical rows")
        yield data_files(path, args.config), None
        return
    from ..build.builder import SourceSpec, build_dataset
    from ..build.dataset_info import expand_sources

    specs, _ = expand_sources([SourceSpec(config=path.stem or "input", path=str(path), format=args.fmt)])
    if args.config:
        specs = [spec for spec in specs if spec.config == args.config]
        if not specs:
            raise ValueError(f"--config {args.config!r} is not a config of {path}")
    with tempfile.TemporaryDirectory(prefix="toolcall-tokenize-") as tmp:
        result = build_dataset(specs, Path(tmp) / "built", progress=not args.no_progress)
        report = result.report
        counts = {key: report["totals"][key] for key in ("records_in", "rows_out", "rejected", "duplicates_removed")}
        counts["reject_reasons"] = {s["config"]: s["reject_reasons"] for s in report["sources"] if s["rejected"]}
        counts["unreadable_files"] = [u for s in report["sources"] for u in s["unreadable_files"]]
        yield data_files(result.out_dir, None), counts


def data_files(path: Path, config: str | None) -> list[str]:
    """The parquet files of a built dataset folder (one config, or all; only those its build wrote), or the file
    itself."""
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        raise ValueError(f"{path} is neither a dataset folder nor a file")
    pattern = f"data/{config}/*.parquet" if config else "data/*/*.parquet"
    written = manifest_files(path)
    files = sorted(str(p) for p in path.glob(pattern) if written is None or p.relative_to(path).as_posix() in written)
    if not files:
        configs = sorted(p.name for p in (path / "data").glob("*") if p.is_dir())
        raise ValueError(f"no parquet files match {path / pattern}" + (f"; configs: {configs}" if configs else ""))
    return files


def tokenize_folder(args: argparse.Namespace, files: list[str], normalized: dict[str, Any] | None = None,
                    ) -> dict[str, Any]:
    import datasets
    from transformers import AutoTokenizer

    from ..tokenization.tokenize import tokenize_dataset
    from .render import parse_render_args

    if args.no_progress:
        datasets.disable_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    dataset = datasets.load_dataset("parquet", data_files=files, split="train", streaming=args.streaming)
    keep = [c for c in ("id", "source") if c in dataset.column_names and not args.pack]
    tokenized, report = tokenize_dataset(
        dataset, tokenizer, args.template, args.max_length, args.num_proc, train_on=args.train_on,
        truncation=args.truncation, control_tokens=args.control_tokens, pack=args.pack, batch_size=args.batch_size,
        keep_columns=keep, template_kwargs=parse_render_args(args.arg), return_report=True,
        stop_tokens=args.stop_tokens, history=args.history, pack_buffer=args.pack_buffer,
    )
    if args.streaming:
        return _write_streamed(args, tokenized, report, files, normalized)
    _refuse_when_nothing_kept(report)
    with staged_output(args.out, command="tokenize", inputs=_inputs(args), overwrite=args.overwrite) as out:
        if args.save_format == "parquet":
            (out / "data").mkdir(parents=True)
            tokenized.to_parquet(str(out / "data" / "train-00000-of-00001.parquet"))
        else:
            tokenized.save_to_disk(str(out))
        return _write_report(args, out, report, files, normalized)


def _write_streamed(args: argparse.Namespace, stream: Any, report: Any, files: list[str],
                    normalized: dict[str, Any] | None) -> dict[str, Any]:
    """Tokenize as the shards are written (the report is complete once they are); nothing is published when no
    row was kept."""
    from tqdm.auto import tqdm

    from ..tokenization.parquet_shards import write_parquet_shards

    with staged_output(args.out, command="tokenize", inputs=_inputs(args), overwrite=args.overwrite) as out:
        with tqdm(desc="Tokenizing (streaming)", unit=" rows", disable=args.no_progress) as bar:
            write_parquet_shards(stream, out / "data", progress=bar.update)
        _refuse_when_nothing_kept(report)
        return _write_report(args, out, report, files, normalized)


def _refuse_when_nothing_kept(report: Any) -> None:
    if report.rows_out == 0:
        dropped = ", ".join(f"{reason}: {count}" for reason, count in sorted(report.dropped.items()))
        raise NothingKept(f"no rows kept: {report.rows_in} row(s) in, all dropped ({dropped or 'none read'}); "
                          "nothing was written")


def _write_report(args: argparse.Namespace, out: Path, report: Any, files: list[str],
                  normalized: dict[str, Any] | None) -> dict[str, Any]:
    """Write ``tokenize_report.json`` into the staged output; the summary written."""
    summary = {
        **report.to_dict(),
        "input": files if normalized is None else [str(args.input)],
        "tokenizer": args.tokenizer,
        "options": {"max_length": args.max_length, "truncation": args.truncation, "train_on": args.train_on,
                    "control_tokens": args.control_tokens, "pack": args.pack, "render_args": args.arg,
                    "stop_tokens": args.stop_tokens, "history": args.history, "streaming": args.streaming},
    }
    if normalized is not None:
        summary["normalize"] = normalized
    (out / REPORT_NAME).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary
