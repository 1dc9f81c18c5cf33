"""``toolcall render``: print conversations of a file as a shipped chat template renders them.

The file holds canonical rows (JSON / JSONL, or parquet as written by ``toolcall build``) or records of any source
format, which are normalized first. ``--tokenizer`` installs the template on a real tokenizer (checking its special
tokens), detects the template when ``--template`` is omitted, and reports token counts and trained tokens.

Conversations are rendered with the render arguments tokenization uses (``stop_token_kwargs``: GLM-4's final
assistant turn gets the stop token the model generates, ``add_stop_token``), so ``--mark`` shows exactly the text
``toolcall tokenize`` / ``inspect`` train; ``--arg add_stop_token=false`` gives the official template's text.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2.exceptions import TemplateError

from ..build.readers import RawItem, SourceError, iter_path
from ..errors import InvalidRecord
from ..normalize import normalize
from ..sources import get_format
from ..templates import ChatTemplate, get_template, list_templates, render
from ..tokenization.conversation_encoder import stop_token_kwargs

_CANONICAL_KEYS = {"id", "tools", "messages"}
_MARK_OPEN, _MARK_CLOSE = "⟦", "⟧"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render", help="print conversations rendered with a chat template",
        description="Render the conversations of FILE (canonical rows, or records of any source format, which are "
                    "normalized first) with a shipped chat template and print them.")
    parser.add_argument("file", metavar="FILE", help="JSON, JSONL or parquet file")
    parser.add_argument("--template", "-t", help=f"template name or alias; one of {', '.join(list_templates())} "
                        "(detected from --tokenizer when omitted)")
    parser.add_argument("--tokenizer", help="tokenizer path or Hub id: installs the template on it, checks its special "
                        "tokens and reports token counts")
    parser.add_argument("--format", dest="fmt", help="source format of the records (default: canonical rows, else "
                        "detected per record)")
    parser.add_argument("--limit", type=int, default=None, help="render at most N conversations")
    parser.add_argument("--generation-prompt", action="store_true", help="append the assistant generation prompt")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                        help="extra render argument (VALUE parsed as JSON when possible), e.g. keep_system=true")
    parser.add_argument("--mark", action="store_true",
                        help=f"wrap trained (generation) spans in {_MARK_OPEN} {_MARK_CLOSE}: exactly what `toolcall "
                        "tokenize` trains, stop tokens included (GLM-4's appended one too)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per conversation")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        given = parse_render_args(args.arg)
        tokenizer = _load_tokenizer(args.tokenizer) if args.tokenizer else None
        spec = _template(args.template, tokenizer)
        kwargs = {**stop_token_kwargs(spec), **given}
        items = _items(Path(args.file), args.fmt)
        failures = 0
        for count, item in enumerate(items):
            if args.limit is not None and count >= args.limit:
                break
            try:
                row = row_of(item, args.fmt)
                text, spans = render(spec, row["messages"], row["tools"] or None,
                                     add_generation_prompt=args.generation_prompt, **kwargs)
            except (InvalidRecord, ValueError, TypeError, TemplateError) as exc:
                failures += 1
                print(f"toolcall render: {item.ref}: {exc}", file=sys.stderr)
                continue
            counts = _token_counts(tokenizer, text, spans) if tokenizer is not None else None
            print(_format(item.ref, row, text, spans, counts, as_json=args.json, mark=args.mark))
    except (SourceError, ValueError, OSError) as exc:
        print(f"toolcall render: error: {exc}", file=sys.stderr)
        return 2
    return 1 if failures else 0


def parse_render_args(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as render keyword arguments; values are JSON when they parse, else strings."""
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--arg expects KEY=VALUE with a name as KEY, got {pair!r}")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    return kwargs


def row_of(item: RawItem, fmt: str | None) -> dict[str, Any]:
    """The canonical row of a read item: canonical rows pass through (JSON-encoded columns decoded), others are
    normalized."""
    if item.error is not None:
        raise InvalidRecord(item.error)
    record = item.record
    if fmt is None and is_canonical_row(record):
        return decode_canonical(record)
    return normalize(record, fmt)


def is_canonical_row(record: Any) -> bool:
    """A row as written by ``toolcall build``: ``id``, ``tools``, ``messages`` plus ``meta`` or ``warnings``."""
    return isinstance(record, dict) and _CANONICAL_KEYS <= record.keys() and ("meta" in record or "warnings" in record)


def decode_canonical(record: dict[str, Any]) -> dict[str, Any]:
    """Decode the ``Json()`` columns that parquet readers return as strings (messages, tool parameters, meta)."""
    messages = [_json_value(m, f"messages[{k}]") for k, m in enumerate(record.get("messages") or [])]
    if not all(isinstance(m, dict) for m in messages):
        raise InvalidRecord("canonical row: every message must be an object")
    tools = []
    for k, tool in enumerate(record.get("tools") or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
            raise InvalidRecord(f"canonical row: tools[{k}] is not an OpenAI-wrapped function")
        function = dict(tool["function"])
        function["parameters"] = _json_value(function.get("parameters"), f"tools[{k}].parameters")
        tools.append({**tool, "function": function})
    return {**record, "messages": messages, "tools": tools, "meta": _json_value(record.get("meta"), "meta")}


def _json_value(value: Any, what: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise InvalidRecord(f"canonical row: {what} is a string but not JSON") from None


def _items(path: Path, fmt: str | None) -> Iterator[RawItem]:
    module = get_format(fmt) if fmt else None
    if module is not None and hasattr(module, "iter_records") and path.exists():
        return (RawItem(f"{path.name}#{k}", record) for k, record in enumerate(module.iter_records(path)))
    return iter_path(path)


def _load_tokenizer(name_or_path: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot load tokenizer {name_or_path!r}: {exc}") from None


def _template(name: str | None, tokenizer: Any) -> ChatTemplate:
    from ..install import apply_tool_template, detect_template_name

    if name is None and tokenizer is None:
        raise ValueError("give --template NAME, or --tokenizer PATH to detect it")
    spec = get_template(name or detect_template_name(tokenizer))
    if tokenizer is not None:
        apply_tool_template(tokenizer, spec.name)
    return spec


def _token_counts(tokenizer: Any, text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """``(tokens, trained tokens)``: a token is trained when it overlaps a generation span."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    trained = sum(1 for start, end in offsets if any(start < b and end > a for a, b in spans))
    return len(offsets), trained


def _format(ref: str, row: dict[str, Any], text: str, spans: list[tuple[int, int]], counts: tuple[int, int] | None,
            *, as_json: bool, mark: bool) -> str:
    fmt = (row.get("meta") or {}).get("format") if isinstance(row.get("meta"), dict) else None
    if as_json:
        out: dict[str, Any] = {"ref": ref, "id": row.get("id"), "format": fmt, "text": text,
                               "generation_spans": [list(span) for span in spans]}
        if counts is not None:
            out["num_tokens"], out["num_trained_tokens"] = counts
        return json.dumps(out, ensure_ascii=False)
    header = f"=== {ref} id={row.get('id')}" + (f" format={fmt}" if fmt else "")
    if counts is not None:
        header += f" tokens={counts[0]} trained={counts[1]}"
    return f"{header}\n{mark_spans(text, spans) if mark else text}"


def mark_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every generation span wrapped in the trained-text markers."""
    pieces, position = [], 0
    for start, end in sorted(spans):
        pieces += [text[position:start], _MARK_OPEN, text[start:end], _MARK_CLOSE]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
