"""Parse text generated for the ``qwen2.5`` / ``qwen3`` templates back into an assistant turn.

The model writes ``[<think>\\nREASONING\\n</think>\\n\\n]CONTENT`` followed by zero or more
``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` blocks (one per line), then ``<|im_end|>``.
Content is the text before the first block without the newline the template puts before it; a leading reasoning
block (Qwen3) becomes ``reasoning_content`` (an empty one is left out). Text outside the blocks after the first one
is kept in ``content`` (joined by newlines) rather than dropped. ``strict=False`` reads model output as vLLM's
``hermes`` and SGLang's ``qwen25`` parsers do (``_lenient.py``): a block cut off or not parseable yields no call and
no markup, and the content comes back without surrounding whitespace.
"""

from __future__ import annotations

import json
from typing import Any

from ..arguments import parse_arguments
from ..errors import InvalidRecord
from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from ._lenient import cut_off_reasoning, lenient_content, read_tagged_calls

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
OPEN_TAG, CLOSE_TAG = "<tool_call>", "</tool_call>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def parse(text: str, strict: bool = True) -> ParsedTurn:
    """``{content, tool_calls[, reasoning_content]}`` of one generated turn; in strict mode ToolCallParseError on a
    malformed call."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    body = strip_stop_tokens(text)
    if not strict and (thinking := cut_off_reasoning(body)) is not None:
        return {"content": "", "tool_calls": [], **({"reasoning_content": thinking} if thinking else {})}
    reasoning, body = split_think(body)
    found = read_tagged_calls(body, OPEN_TAG, CLOSE_TAG, _tool_call, strict)
    content = _content(found.pieces, bool(found.calls)) if strict else (
        lenient_content(found.pieces) if found.markup else body)
    turn: ParsedTurn = {"content": content, "tool_calls": found.calls}
    if reasoning:
        turn["reasoning_content"] = reasoning
    return turn


def strip_stop_tokens(text: str, stop_tokens: tuple[str, ...] = STOP_TOKENS) -> str:
    """Remove trailing stop tokens (the text the model generates may include them)."""
    changed = True
    while changed:
        changed = False
        for token in stop_tokens:
            if text.endswith(token):
                text, changed = text[: -len(token)], True
    return text


def split_think(text: str) -> tuple[str | None, str]:
    """A leading ``<think>\\n...\\n</think>\\n\\n`` block: ``(reasoning or None, rest)``, spaced as Qwen3 spaces it.

    Only a block that opens the turn and is closed counts; anything else (no block, a block never closed, a stray
    ``</think>``) stays in the content as it is.
    """
    stripped = text.lstrip("\n")
    end = stripped.find(THINK_CLOSE)
    if not stripped.startswith(THINK_OPEN) or end < 0:
        return None, text
    return stripped[len(THINK_OPEN):end].strip("\n"), stripped[end + len(THINK_CLOSE):].lstrip("\n")


def _tool_call(payload: str, index: int) -> ToolCall:
    return tool_call_from_json(payload, index, OPEN_TAG)


def tool_call_from_json(payload: str, index: int, where: str) -> ToolCall:
    """A ToolCall from a ``{"name": ..., "arguments"|"parameters": ...}`` JSON payload."""
    try:
        data: Any = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ToolCallParseError(
            f"{where} payload is not JSON ({exc.msg}: line {exc.lineno} column {exc.colno}): {payload[:80]!r}")
    return tool_call_from_object(data, index, where)


def tool_call_from_object(data: Any, index: int, where: str) -> ToolCall:
    """A ToolCall from a decoded ``{"name": ..., "arguments"|"parameters": ...}`` object."""
    if not isinstance(data, dict):
        raise ToolCallParseError(f"{where} payload must be a JSON object, got {type(data).__name__}")
    if isinstance(data.get("function"), dict) and "name" not in data:
        data = data["function"]
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ToolCallParseError(f"{where} payload has no function name: {json.dumps(data, ensure_ascii=False)[:80]}")
    raw = data["arguments"] if "arguments" in data else data.get("parameters")
    try:
        arguments, _ = parse_arguments(raw)
    except InvalidRecord as exc:
        raise ToolCallParseError(f"arguments of {name!r}: {exc.reason}") from None
    return {"id": f"call_{index}", "type": "function", "function": {"name": name.strip(), "arguments": arguments}}


def _content(pieces: list[str], has_calls: bool) -> str:
    if not has_calls:
        return pieces[0]
    texts = [pieces[0].removesuffix("\n"), *(piece.strip("\n") for piece in pieces[1:])]
    return "\n".join(t for t in texts if t)
