"""Parse ``<function_call>{"name": .., "arguments": ..}</function_call>`` text generated for the
``chatml-function-call`` template back into an assistant turn.

Content is the text outside the tags (the newline the template puts before each tag is removed); a leading
``<think>..</think>`` block becomes ``reasoning_content``; arguments may be a JSON object or a JSON string holding one;
``"parameters"`` is accepted for ``"arguments"``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..conversation import split_reasoning
from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from .qwen import tool_call_from_object
from .react import strip_stop_tokens

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
OPEN_TAG = "<function_call>"
CLOSE_TAG = "</function_call>"
_THINK = re.compile(r"<think>\n(.*?)\n</think>\n\n", re.DOTALL)
_TAGS = re.compile(re.escape(OPEN_TAG) + r"(.*?)(?:" + re.escape(CLOSE_TAG) + r"|\Z)", re.DOTALL)


def parse(text: str) -> ParsedTurn:
    """``{content, tool_calls}`` of one generated turn; raises ToolCallParseError on a malformed call."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    reasoning, body = _split_think(strip_stop_tokens(text, STOP_TOKENS))
    turn = _turn(body)
    if reasoning is not None:
        turn["reasoning_content"] = reasoning
    return turn


def _split_think(text: str) -> tuple[str | None, str]:
    """The template's exact ``<think>\\n..\\n</think>\\n\\n`` block first, then any looser leading think block."""
    exact = _THINK.match(text)
    if exact:
        return exact.group(1), text[exact.end():]
    return split_reasoning(text)


def _turn(body: str) -> ParsedTurn:
    """Content and calls of the text after any reasoning block."""
    calls: list[ToolCall] = []
    pieces: list[str] = []
    position = 0
    for match in _TAGS.finditer(body):
        if not match.group(0).endswith(CLOSE_TAG):
            raise ToolCallParseError(f"unterminated {OPEN_TAG}: {body[match.start():match.start() + 80]!r}")
        pieces.append(body[position:match.start()])
        calls.append(_tool_call(match.group(1), len(calls)))
        position = match.end()
    if CLOSE_TAG in body[position:]:
        raise ToolCallParseError(f"{CLOSE_TAG} without a matching {OPEN_TAG}")
    pieces.append(body[position:])
    if not calls:
        return {"content": body, "tool_calls": []}
    texts = [pieces[0].rstrip("\n"), *(piece.strip("\n") for piece in pieces[1:])]
    return {"content": "\n".join(t for t in texts if t), "tool_calls": calls}


def _tool_call(payload: str, index: int) -> ToolCall:
    """One call from a tag's JSON payload."""
    try:
        data: Any = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ToolCallParseError(f"{OPEN_TAG} payload is not JSON ({exc.msg} at column {exc.colno}): {payload[:80]!r}")
    return tool_call_from_object(data, index, OPEN_TAG)
