"""``toolcall inspect``: print tokenized samples with the trained tokens told apart from the masked ones.

    toolcall inspect tokenized/ [-n 3] [--tokenizer PATH_OR_ID]
    toolcall inspect toolcall-unified --tokenizer PATH_OR_ID [--template NAME] [--config NAME]

PATH is the output of ``toolcall tokenize`` (its report names the tokenizer), or a built dataset folder, which is
tokenized on the fly. Trained tokens are shown in colour on a terminal (``--color``), or between ``⟦ ⟧`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..templates import list_templates
from ..tokenization.turn_encoder import HISTORY_POLICIES

OPEN, CLOSE = "⟦", "⟧"
TRAINED_STYLE, RESET = "\033[1;32m", "\033[0m"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect", help="show tokenized samples with trained tokens marked",
        description="Print N tokenized samples; trained tokens (labels != -100) are coloured on a terminal, or "
                    f"wrapped in {OPEN} {CLOSE} otherwise.")
    parser.add_argument("path", metavar="PATH", help="output of `toolcall tokenize`, or a built dataset folder")
    parser.add_argument("-n", "--num", type=_at_least(1), default=3, help="samples to print (default 3)")
    parser.add_argument("--start", type=_at_least(0), default=0, help="index of the first sample (an error when "
                        "past the last one)")
    parser.add_argument("--tokenizer", help="tokenizer path or Hub id (default: the one in tokenize_report.json)")
    parser.add_argument("--template", help=f"template for a dataset folder; one of {', '.join(list_templates())}, "
                        "or 'own' (the tokenizer's own chat template; the default when it is not a shipped one)")
    parser.add_argument("--stop-token", dest="stop_tokens", action="append", metavar="TOKEN",
                        help="with the tokenizer's own template: a token that ends an assistant turn (repeatable)")
    parser.add_argument("--history", choices=HISTORY_POLICIES, default="split",
                        help="a conversation one row cannot hold exactly: one row per run of turns (split) or drop")
    parser.add_argument("--config", help="config of a dataset folder (default: all)")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="template render argument")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour trained tokens (auto: when printing to a terminal)")
    parser.set_defaults(run=run)


def _at_least(low: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def run(args: argparse.Namespace) -> int:
    try:
        tokenizer, samples = _load(args)
    except (ValueError, OSError) as exc:
        print(f"toolcall inspect: error: {exc}", file=sys.stderr)
        return 2
    if not samples:
        print(f"toolcall inspect: error: every selected row was dropped when tokenized (from --start {args.start}, "
              f"{args.num} row(s)); see `toolcall tokenize` for the reasons", file=sys.stderr)
        return 1
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    for index, sample in samples:
        labels = sample["labels"]
        trained = sum(label != -100 for label in labels)
        title = f"#{index}" + (f" id={sample['id']}" if sample.get("id") else "")
        print(f"===== {title}: {len(labels)} tokens, {trained} trained =====")
        print(highlight(tokenizer, sample["input_ids"], labels, color))
    return 0


def highlight(tokenizer: Any, ids: list[int], labels: list[int], color: bool) -> str:
    """The decoded sample, trained runs coloured or wrapped in markers."""
    out: list[str] = []
    start = 0
    while start < len(ids):
        trained = labels[start] != -100
        end = start
        while end < len(ids) and (labels[end] != -100) == trained:
            end += 1
        text = tokenizer.decode(ids[start:end])
        if trained:
            text = f"{TRAINED_STYLE}{text}{RESET}" if color else f"{OPEN}{text}{CLOSE}"
        out.append(text)
        start = end
    return "".join(out)


def _load(args: argparse.Namespace) -> tuple[Any, list[tuple[int, dict[str, Any]]]]:
    import datasets
    from transformers import AutoTokenizer

    path = Path(args.path)
    datasets.disable_progress_bars()
    report_file = path / "tokenize_report.json"
    name = args.tokenizer
    if name is None and report_file.exists():
        name = json.loads(report_file.read_text(encoding="utf-8")).get("tokenizer")
    if name is None:
        raise ValueError("pass --tokenizer (no tokenize_report.json names one)")
    dataset, tokenized = _dataset(path, args.config)
    _check_start(args.start, len(dataset), path)  # before the (slow) tokenizer load
    tokenizer = AutoTokenizer.from_pretrained(name)
    picked = range(args.start, min(len(dataset), args.start + args.num))
    if tokenized:
        return tokenizer, [(i, dataset[i]) for i in picked]
    # a built dataset folder: tokenize the requested rows now (dropped rows are skipped)
    from ..tokenization.tokenize import tokenize_dataset
    from .render import parse_render_args

    rows = tokenize_dataset(dataset.select(picked), tokenizer, args.template, keep_columns=("id",),
                            template_kwargs=parse_render_args(args.arg), desc=None, stop_tokens=args.stop_tokens,
                            history=args.history)
    return tokenizer, list(enumerate(rows, args.start))


def _dataset(path: Path, config: str | None) -> tuple[Any, bool]:
    """``(dataset, already tokenized?)``: the output of ``toolcall tokenize``, or the rows of a built folder."""
    import datasets

    if (path / "state.json").exists():
        return datasets.load_from_disk(str(path)), True
    if (path / "tokenize_report.json").exists():
        files = sorted(map(str, path.glob("data/*.parquet")))
        return datasets.load_dataset("parquet", data_files=files, split="train"), True
    from .tokenize import data_files

    return datasets.load_dataset("parquet", data_files=data_files(path, config), split="train"), False


def _check_start(start: int, size: int, path: Path) -> None:
    if start >= size:
        raise ValueError(f"--start {start} is past the end: {path} holds {size} sample(s)"
                         + (f" (indexes 0 to {size - 1})" if size else ""))
