"""Parse an assistant's generated text back into ``(content, tool_calls)`` for a template.

One module per template family, ``toolcall_templates/parsing/<family>.py``, each exposing
``parse(text: str) -> ParsedTurn``. The family comes from the template's sidecar facts.
"""

from __future__ import annotations

import importlib
from typing import Any, TypedDict

from typing_extensions import NotRequired

from ..schema import ToolCall
from ..templates import ChatTemplate, resolve_template


class ParsedTurn(TypedDict):
    """An assistant turn recovered from generated text."""

    content: str
    tool_calls: list[ToolCall]
    reasoning_content: NotRequired[str]


class ToolCallParseError(ValueError):
    """Generated text that looks like a tool call but cannot be parsed; the message says why."""


def parse_assistant(text: str, template: "str | ChatTemplate") -> ParsedTurn:
    """Parse one assistant turn's generated text (stop tokens may be included or not)."""
    family = resolve_template(template).family
    module = importlib.import_module(f"{__name__}.{family}")
    return module.parse(text)


def parse_tool_calls(text: str, template: "str | ChatTemplate") -> tuple[str, list[ToolCall]]:
    """``(content, tool_calls)`` of an assistant's generated text; raises ToolCallParseError on malformed calls."""
    turn = parse_assistant(text, template)
    return turn["content"], turn["tool_calls"]


__all__: list[Any] = ["ParsedTurn", "ToolCallParseError", "parse_assistant", "parse_tool_calls"]
