"""``toolcall eval``: generate every assistant turn of a dataset split with a model, and score its tool calls.

    toolcall eval --in DATASET [--config NAME] [--split test] (--model PATH | --endpoint URL [--model-name NAME])
                  [--template NAME] [--max-new-tokens N] [--limit N] [--batch-size N] [--out report.json]

Prints a table of the scores (``toolcall_templates.evaluation`` defines them) and writes a JSON report with one
record per turn. Exit codes: 0 evaluated; 1 no turn could be evaluated; 2 bad options or input (an unknown split,
an unreadable model, a server that cannot be reached, a refused ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..evaluation.turns import TURN_KINDS
from ..templates import list_templates
from .build import paragraphs

REPORT_MARK = "toolcall eval"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="score a model's tool calls on a dataset split",
        description=paragraphs(
            "Generate every assistant turn of the rows of a dataset split that declare tools, each from the "
            "conversation before it (the chat template's inference prompt, greedy decoding, the template's stop "
            "tokens), read the calls back with the template's parser in lenient mode, and score them: tool-name "
            "accuracy, exact call match (arguments as JSON values, parallel calls in any order), argument validity "
            "against the declared JSON Schema, no-call accuracy where the reference calls nothing, stops on a stop "
            "token, parse failures.",
            "--model runs a local transformers model; --endpoint an OpenAI-compatible server (vLLM, SGLang): "
            "/v1/completions with the rendered prompt and our parser (--api completions, default), or "
            "/v1/chat/completions with tools= and the server's own template and tool parser (--api chat).",
            "--out may be a new file or an earlier report of toolcall eval; any other existing file is refused unless "
            "--overwrite. Exit codes: 0 evaluated; 1 no turn could be evaluated; 2 bad options or input."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in", dest="input", required=True, metavar="DATASET",
                        help="dataset folder (as written by `toolcall build`), Hub dataset id, or a .json/.jsonl/"
                             ".parquet file of rows (canonical, or any format `toolcall build` reads)")
    parser.add_argument("--config", help="config of the dataset (default: its default config)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test, the held-out split)")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", metavar="PATH", help="local transformers model (folder or Hub id)")
    model.add_argument("--endpoint", metavar="URL", help="OpenAI-compatible server, e.g. http://localhost:8000/v1")
    parser.add_argument("--model-name", help="with --endpoint: the served model name (default: the one it serves)")
    parser.add_argument("--api", choices=("completions", "chat"), default="completions",
                        help="with --endpoint: /v1/completions with our rendered prompt and parser (default), or "
                             "/v1/chat/completions with tools= (the server's template and tool parser)")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"),
                        help="with --endpoint: bearer token (default: $OPENAI_API_KEY)")
    parser.add_argument("--extra-body", metavar="JSON", help="with --endpoint: fields added to every request body "
                        "(a null value removes a default field), e.g. '{\"top_k\": 1}'")
    parser.add_argument("--tokenizer", help="tokenizer path or Hub id (default: the --model's); with --endpoint it "
                        "detects the template and sends prompts as token ids")
    parser.add_argument("--template", help="chat template the model was trained with; one of "
                        f"{', '.join(list_templates())}, or 'own' for the tokenizer's own chat template (default: "
                        "detected from the tokenizer)")
    parser.add_argument("--parser", help="with the tokenizer's own template: the shipped template whose parser reads "
                        "the output (default: the one that reads back a call the template renders)")
    parser.add_argument("--stop-token", dest="stop_tokens", action="append", metavar="TOKEN",
                        help="a token that ends a turn (repeatable; default: the template's)")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                        help="template render argument (VALUE parsed as JSON when possible), e.g. "
                             "enable_thinking=false")
    parser.add_argument("--turns", choices=TURN_KINDS, default="all",
                        help="all assistant turns (default), or only those whose reference calls tools")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="longest generated turn (default: 512)")
    parser.add_argument("--limit", type=int, help="evaluate the first N rows only")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="turns generated together (local model) or requests in flight (endpoint); default 8")
    parser.add_argument("--device", default="auto",
                        help="local model device: auto (CUDA when available), cpu, cuda, ...")
    parser.add_argument("--dtype", default="auto", help="local model dtype: auto, bfloat16, float16, float32")
    parser.add_argument("--out", metavar="REPORT.json", help="write the JSON report (per-turn records) here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file of any origin")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluation import DatasetUnavailable, EndpointError, NothingEvaluated, evaluate, load_rows

    try:
        _check_options(args)
        if args.out:
            check_report_path(args.out, [args.input, args.model, args.tokenizer], overwrite=args.overwrite)
        if args.no_progress:
            _hide_library_progress_bars()
        rows, facts = load_rows(args.input, args.config, args.split)
        generator, template = _backend(args)
        report = evaluate(rows, generator, template, turns=args.turns, limit=args.limit,
                          progress=not args.no_progress, setup=facts)
    except NothingEvaluated as exc:
        print(f"toolcall eval: error: {exc}", file=sys.stderr)
        return 1
    except (DatasetUnavailable, EndpointError, ValueError, OSError) as exc:
        print(f"toolcall eval: error: {exc}", file=sys.stderr)
        return 2
    counts = report.counts()
    print(f"{report.setup['model']} on {facts['dataset']}" + (f" [{facts['config']}/{facts['split']}]"
                                                               if facts["split"] else "")
          + f": {counts['turns_scored']} turns from {counts['rows_evaluated']}/{counts['rows_in']} rows "
          f"({report.setup['backend']}, template {report.setup['template']})")
    print(report.table())
    for label, key in (("rows skipped", "rows_skipped"), ("turns left out", "turns_left_out"),
                       ("generation errors", "generation_errors")):
        for reason, count in counts[key].items():
            print(f"  {label} ({reason}): {count}")
    if args.out:
        write_report(args.out, {"written_by": REPORT_MARK, **report.to_dict()})
        print(f"wrote {args.out}")
    return 0


def _check_options(args: argparse.Namespace) -> None:
    for name in ("max_new_tokens", "batch_size", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.model and (args.model_name or args.extra_body or args.api != "completions"):
        raise ValueError("--model-name, --api and --extra-body apply to --endpoint, not to a local --model")


def _hide_library_progress_bars() -> None:
    """datasets' and transformers' own bars (loading the split, the weights)."""
    import datasets
    from transformers.utils import logging as transformers_logging

    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()


def _backend(args: argparse.Namespace) -> tuple[Any, Any]:
    """``(generator, template)`` for the options; the template is None for a chat server."""
    from ..evaluation import ChatGenerator, CompletionsGenerator, TransformersGenerator, load_model
    from .render import parse_render_args

    options = {"max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size}
    if args.model:
        model, tokenizer = load_model(args.model, device=args.device, dtype=args.dtype, tokenizer=args.tokenizer)
        template = _template(args, tokenizer, parse_render_args(args.arg))
        return TransformersGenerator(model, tokenizer, template.stop_tokens, name=args.model, **options), template
    endpoint = {**options, "api_key": args.api_key, "extra_body": _extra_body(args.extra_body)}
    if args.api == "chat":
        if args.template or args.tokenizer or args.parser or args.stop_tokens or args.arg:
            raise ValueError("--api chat uses the server's chat template and tool parser: --template, --tokenizer, "
                             "--parser, --stop-token and --arg do not apply")
        return ChatGenerator(args.endpoint, args.model_name, **endpoint), None
    tokenizer = _load_tokenizer(args.tokenizer) if args.tokenizer else None
    if tokenizer is None and not args.template:
        raise ValueError("--endpoint with --api completions renders the prompts itself: pass --template (a shipped "
                         "template) or --tokenizer (to detect it, or to use its own template)")
    template = _template(args, tokenizer, parse_render_args(args.arg))
    return CompletionsGenerator(args.endpoint, args.model_name, template.stop_tokens, tokenizer=tokenizer,
                                **endpoint), template


def _template(args: argparse.Namespace, tokenizer: Any, render_args: dict[str, Any]) -> Any:
    from ..evaluation import eval_template

    return eval_template(args.template, tokenizer, template_kwargs=render_args, stop_tokens=args.stop_tokens,
                         parser=args.parser)


def _load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _extra_body(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--extra-body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"--extra-body must be a JSON object, got {type(value).__name__}")
    return value


def check_report_path(out: str, inputs: list[str | None], *, overwrite: bool = False) -> Path:
    """The resolved report path; a ValueError when it is, or lies inside, an input, is a folder, or is an existing
    file that is not an earlier report of ``toolcall eval`` (unless ``overwrite``)."""
    target = Path(out).expanduser().resolve()
    for given in inputs:
        if given and Path(given).expanduser().exists():
            source = Path(given).expanduser().resolve()
            if target == source or target.is_relative_to(source):
                raise ValueError(f"--out {str(target)!r} {'is' if target == source else 'lies inside'} the input "
                                 f"{str(source)!r}; choose another --out")
    if target.is_dir():
        raise ValueError(f"--out {str(target)!r} is a folder; name a file")
    if target.exists() and not overwrite and not _is_report(target):
        raise ValueError(f"--out {str(target)!r} exists and is not a report of toolcall eval; choose another --out, "
                         "or pass --overwrite to replace it")
    return target


def _is_report(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("written_by") == REPORT_MARK
    except (OSError, ValueError, AttributeError):
        return False


def write_report(out: str, report: dict[str, Any]) -> None:
    """Write the report atomically (a temporary file beside it, then renamed over it)."""
    target = Path(out).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        staging.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
