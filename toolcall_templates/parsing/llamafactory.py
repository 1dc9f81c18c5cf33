"""Parse text generated for the ``chatml-llamafactory`` template (LLaMA-Factory's ``default`` tool format) back into
an assistant turn.

The model writes ``[<think>\\nREASONING\\n</think>\\n\\n]TEXT`` and, for calls, ``Action: NAME\\nAction Input: {JSON}``
right after the text (several actions joined by ``\\n``), then ``<|im_end|>``. The text before the first action is
the content, verbatim; a leading think block is ``reasoning_content``; each action input must be a JSON object. This
reads what LLaMA-Factory's ``DefaultToolUtils.tool_extractor`` reads, with two differences: a name may hold any
characters but a newline (LLaMA-Factory's pattern takes ``[a-zA-Z0-9_]`` only), and the content before the actions is
returned (LLaMA-Factory drops it).

Strict: an ``Action:`` line not followed by an ``Action Input:`` line holding a JSON object, or text after the
actions, raises ToolCallParseError. ``Action:`` in text that is not followed by an ``Action Input:`` line is content.
``strict=False`` (``_lenient.py``): an action whose input is cut off yields no call and leaves no markup in the
content, an input that is not a JSON object yields no call and its text comes back as content, and the content comes
back without surrounding whitespace.
"""

from __future__ import annotations

import re

from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from ._lenient import is_cut_off_json, json_prefix, partial_tag_at_end
from .qwen import split_think, strip_stop_tokens

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
ACTION, ACTION_INPUT = "Action:", "Action Input:"
_ACTION = re.compile(r"Action:[ \t]*((?:(?!Action:)[^\n])*?)[ \t]*\nAction Input:[ \t]*")


def parse(text: str, strict: bool = True) -> ParsedTurn:
    """``{content, tool_calls[, reasoning_content]}`` of one generated turn; in strict mode ToolCallParseError on a
    malformed action."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    reasoning, body = split_think(strip_stop_tokens(text, STOP_TOKENS))
    first = _ACTION.search(body)
    start = first.start() if first else len(body)
    calls, rest = _actions(body, start, strict) if first else ([], body)
    if strict:
        if first is None and ACTION_INPUT in body:
            raise ToolCallParseError(f"{ACTION_INPUT} without an {ACTION} line before it")
        content = body[:start]
    else:
        cut = _cut_off_action(rest)
        markup = first is not None or cut is not None
        rest = rest if cut is None else rest[:cut]
        content = ((body[:start] if first else "") + rest).strip() if markup else body
    turn: ParsedTurn = {"content": content, "tool_calls": calls}
    if reasoning:
        turn["reasoning_content"] = reasoning
    return turn


def _actions(body: str, position: int, strict: bool) -> tuple[list[ToolCall], str]:
    """The calls of the actions starting at ``position``, and the text after them (lenient: from the first action
    that yields no call; empty when an input is cut off)."""
    calls: list[ToolCall] = []
    while match := _ACTION.match(body, position):
        name, payload = match.group(1), body[match.end():]
        if not strict and is_cut_off_json(payload):
            return calls, ""
        decoded = json_prefix(payload)
        if decoded is None or not isinstance(decoded[0], dict) or not name:
            if strict:
                reason = ("has no name" if not name else "has an input that is not JSON" if decoded is None
                          else "has an input that is not a JSON object")
                raise ToolCallParseError(f"{ACTION} {name!r} {reason}: {payload[:80]!r}")
            return calls, body[position:]
        arguments, after = decoded
        calls.append({"id": f"call_{len(calls)}", "type": "function",
                      "function": {"name": name, "arguments": arguments}})
        position = len(body) - len(after) + after.startswith("\n" + ACTION)
    if strict and body[position:]:
        raise ToolCallParseError(f"text after the actions: {body[position:][:80]!r}")
    return calls, body[position:]


def _cut_off_action(text: str) -> int | None:
    """Where an action cut off at the end of ``text`` starts, or None: an ``Action:`` line whose name (one word) is
    not followed by a finished ``Action Input:`` line. ``Action:`` followed by words is text."""
    start = text.rfind(ACTION)
    if start >= 0:
        name_line, newline, after = text[start + len(ACTION):].partition("\n")
        if len(name_line.split()) <= 1 and (not newline or ACTION_INPUT.startswith(after)):
            return start
    cut = partial_tag_at_end(text, ACTION)
    return len(text) - cut if cut else None
