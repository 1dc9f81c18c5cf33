"""Split one source message that carries the results of several parallel calls into one result per call.

Formats with a single observation slot per turn (LLaMA-Factory ShareGPT ``observation``, LLaMA-Factory v1 ``tool``
messages) pack parallel results in one of two ways:

* a JSON array with one item per call, the items either the bare results or OpenAI-style wrappers
  ``{"tool_call_id"?, "name"?, "content"}``;
* LLaMA-Factory's own joiner ``"\\n</tool_response>\\n<tool_response>\\n"`` (its OpenAI converter merges
  consecutive tool messages with it).

Bare items are cut out of the source text (not re-serialized), so their bytes survive unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..arguments import dumps

LLAMAFACTORY_JOINER = "\n</tool_response>\n<tool_response>\n"
_WRAPPER_KEYS = {"tool_call_id", "name", "content", "role", "type", "id"}
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ToolResult:
    """One tool result: its text and, when the source named them, the function name and call id."""

    content: str
    name: str | None = None
    call_id: str | None = None


def split_results(text: str, expected: int) -> list[ToolResult]:
    """The results packed in ``text`` for ``expected`` pending calls (``[ToolResult(text)]`` when not packed).

    Wrapped items (``{"name"/"tool_call_id", "content"}``) are always unwrapped; bare JSON-array items and
    joiner-separated parts are split only when their number equals the number of pending calls.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        items = json_array_items(stripped)
        if items and all(_is_wrapper(value) for value, _ in items):
            return [_unwrap(value) for value, _ in items]
        if items and expected > 1 and len(items) == expected:
            return [ToolResult(raw) for _, raw in items]
    if expected > 1 and text.count(LLAMAFACTORY_JOINER) == expected - 1:
        return [ToolResult(part) for part in text.split(LLAMAFACTORY_JOINER)]
    return [ToolResult(text)]


def json_array_items(text: str) -> list[tuple[Any, str]] | None:
    """``(value, source_text)`` of every item of a JSON array text, or None when it is not exactly one array."""
    try:
        if not isinstance(json.loads(text), list):
            return None
    except json.JSONDecodeError:
        return None
    items: list[tuple[Any, str]] = []
    pos = _skip_space(text, 1)
    if text[pos] == "]":
        return items
    while True:
        value, end = _DECODER.raw_decode(text, pos)
        items.append((value, text[pos:end]))
        pos = _skip_space(text, end)
        if text[pos] == "]":
            return items
        pos = _skip_space(text, pos + 1)  # the comma


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _is_wrapper(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "content" in value
        and ("name" in value or "tool_call_id" in value)
        and set(value) <= _WRAPPER_KEYS
    )


def _unwrap(value: dict) -> ToolResult:
    content = value["content"]
    name = value.get("name")
    call_id = value.get("tool_call_id") or value.get("id")
    return ToolResult(
        content if isinstance(content, str) else dumps(content),
        name if isinstance(name, str) and name else None,
        call_id if isinstance(call_id, str) and call_id else None,
    )
