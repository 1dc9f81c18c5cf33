"""Parse an assistant's generated text back into ``(content, tool_calls)`` for a template.

One module per template family, ``toolcall_templates/parsing/<family>.py``, each exposing
``parse(text: str, strict: bool = True) -> ParsedTurn``. The family comes from the template's sidecar facts.
``strict=True`` validates (training data: any malformed call raises ToolCallParseError with the reason);
``strict=False`` reads model output as serving engines do and never raises on a string. The rules of both modes,
and the helpers the family modules share for them, are in ``parsing/_lenient.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
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


def parse_assistant(text: str, template: "str | ChatTemplate", strict: bool = True, *,
                    tools: Sequence[Any] | None = None) -> ParsedTurn:
    """Parse one assistant turn's generated text (stop tokens may be included or not).

    ``strict=True`` raises ToolCallParseError on a malformed call; ``strict=False`` reads model output leniently
    (a call cut off by ``max_tokens`` or not parseable yields no call; see ``parsing/_lenient.py``). ``tools``: the
    conversation's tool definitions, which type the argument values of formats that write them as bare text
    (families whose module sets ``TAKES_TOOLS``: ``glm45``, ``qwen_xml``); other families ignore them.
    """
    family = resolve_template(template).family
    module = importlib.import_module(f"{__name__}.{family}")
    if tools is not None and getattr(module, "TAKES_TOOLS", False):
        return module.parse(text, strict=strict, tools=tools)
    return module.parse(text, strict=strict)


def parse_tool_calls(text: str, template: "str | ChatTemplate", strict: bool = True, *,
                     tools: Sequence[Any] | None = None) -> tuple[str, list[ToolCall]]:
    """``(content, tool_calls)`` of an assistant's generated text; ``strict=True`` raises ToolCallParseError on
    malformed calls, ``strict=False`` reads model output as vLLM's and SGLang's tool parsers do. ``tools`` type
    the values of text-valued formats (see ``parse_assistant``)."""
    turn = parse_assistant(text, template, strict, tools=tools)
    return turn["content"], turn["tool_calls"]


__all__: list[Any] = ["ParsedTurn", "ToolCallParseError", "parse_assistant", "parse_tool_calls"]
