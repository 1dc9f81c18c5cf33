"""``toolcall tokenize``: tokenize a built dataset folder with exact label masks, and report every drop.

    toolcall tokenize --in toolcall-unified [--config NAME] --tokenizer PATH_OR_ID [--template NAME]
                      [--max-length N] --out tokenized/

Reads ``data/<config>/*.parquet`` as written by ``toolcall build`` (every config when ``--config`` is omitted),
writes the tokenized dataset (``save_to_disk``, or parquet shards with ``--save-format parquet``) and
``tokenize_report.json`` (rows in and out, drops by reason with examples, truncations, control tokens, options).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ..tokenization.control_tokens import CONTROL_TOKEN_POLICIES
from ..tokenization.conversation_encoder import TRAIN_ON
from ..templates import list_templates
from ..tokenization.truncation import TRUNCATION_POLICIES

REPORT_NAME = "tokenize_report.json"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tokenize", help="tokenize a dataset folder with exact label masks",
        description="Tokenize the canonical rows of a dataset folder (as written by `toolcall build`) into "
                    "input_ids / attention_mask / labels, and write the result with a JSON report of counts and drops.")
    parser.add_argument("--in", dest="input", required=True, metavar="DIR",
                        help="dataset folder (data/<config>/*.parquet) or a parquet file")
    parser.add_argument("--config", help="only this config of the folder (default: all)")
    parser.add_argument("--tokenizer", required=True, help="tokenizer path or Hub id")
    parser.add_argument("--template", help=f"template name; one of {', '.join(list_templates())} "
                        "(default: detected from the tokenizer)")
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
    parser.add_argument("--save-format", choices=("disk", "parquet"), default="disk",
                        help="save_to_disk folder (default) or parquet shards under data/")
    parser.add_argument("--out", required=True, metavar="DIR2", help="output folder (replaced)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.pack and args.max_length is None:
            raise ValueError("--pack needs --max-length")
        files = data_files(Path(args.input), args.config)
        report = tokenize_folder(args, files)
    except (ValueError, OSError) as exc:
        print(f"toolcall tokenize: error: {exc}", file=sys.stderr)
        return 2
    print(f"{report['rows_out']}/{report['rows_in']} rows kept, {report['tokens']} tokens "
          f"({report['trained_tokens']} trained)")
    for reason, count in report["dropped"].items():
        print(f"  dropped {reason}: {count}")
    for policy, count in report["truncated"].items():
        print(f"  truncated ({policy}): {count}")
    print(f"wrote {args.out} and {Path(args.out) / REPORT_NAME}")
    return 0


def data_files(path: Path, config: str | None) -> list[str]:
    """The parquet files of a built dataset folder (one config, or all), or the file itself."""
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        raise ValueError(f"{path} is neither a dataset folder nor a file")
    pattern = f"data/{config}/*.parquet" if config else "data/*/*.parquet"
    files = sorted(str(p) for p in path.glob(pattern))
    if not files:
        configs = sorted(p.name for p in (path / "data").glob("*") if p.is_dir())
        raise ValueError(f"no parquet files match {path / pattern}" + (f"; configs: {configs}" if configs else ""))
    return files


def tokenize_folder(args: argparse.Namespace, files: list[str]) -> dict[str, Any]:
    import datasets
    from transformers import AutoTokenizer

    from ..tokenization.conversation_encoder import resolve_for_tokenizer
    from ..tokenization.tokenize import tokenize_dataset
    from .render import parse_render_args

    if args.no_progress:
        datasets.disable_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    dataset = datasets.load_dataset("parquet", data_files=files, split="train")
    keep = [c for c in ("id", "source") if c in dataset.column_names and not args.pack]
    template = resolve_for_tokenizer(args.template, tokenizer)
    tokenized, report = tokenize_dataset(
        dataset, tokenizer, template.name, args.max_length, args.num_proc, train_on=args.train_on,
        truncation=args.truncation, control_tokens=args.control_tokens, pack=args.pack, batch_size=args.batch_size,
        keep_columns=keep, template_kwargs=parse_render_args(args.arg), return_report=True,
    )
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    if args.save_format == "disk":
        tokenized.save_to_disk(str(out))
    else:
        (out / "data").mkdir(parents=True)
        tokenized.to_parquet(str(out / "data" / "train-00000-of-00001.parquet"))
    summary = {
        **report.to_dict(),
        "input": files,
        "tokenizer": args.tokenizer,
        "template": template.name,
        "options": {"max_length": args.max_length, "truncation": args.truncation, "train_on": args.train_on,
                    "control_tokens": args.control_tokens, "pack": args.pack, "render_args": args.arg},
    }
    (out / REPORT_NAME).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary
