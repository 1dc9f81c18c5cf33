"""Parse ``<function_call>{"name": .., "arguments": ..}</function_call>`` text generated for the
``chatml-function-call`` template back into an assistant turn.

Content is the text outside the tags (the newline the template puts before each tag is removed); a leading
``<think>..</think>`` block becomes ``reasoning_content``; arguments may be a JSON object or a JSON string holding one;
``"parameters"`` is accepted for ``"arguments"``. ``strict=False`` reads model output leniently (``_lenient.py``):
a tag cut off or not parseable yields no call and no markup, and the content comes back without surrounding
whitespace.
"""

from __future__ import annotations

import re

from ..conversation import split_reasoning
from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from ._lenient import cut_off_reasoning, lenient_content, read_tagged_calls
from .qwen import tool_call_from_json
from .react import strip_stop_tokens

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
OPEN_TAG = "<function_call>"
CLOSE_TAG = "</function_call>"
_THINK = re.compile(r"<think>\n(.*?)\n</think>\n\n", re.DOTALL)


def parse(text: str, strict: bool = True) -> ParsedTurn:
    """``{content, tool_calls}`` of one generated turn; in strict mode ToolCallParseError on a malformed call."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    body = strip_stop_tokens(text, STOP_TOKENS)
    if not strict and (thinking := cut_off_reasoning(body)) is not None:
        return {"content": "", "tool_calls": [], **({"reasoning_content": thinking} if thinking else {})}
    reasoning, body = _split_think(body)
    found = read_tagged_calls(body, OPEN_TAG, CLOSE_TAG, _tool_call, strict)
    if not strict:
        content = lenient_content(found.pieces) if found.markup else body
    elif not found.calls:
        content = body
    else:
        texts = [found.pieces[0].rstrip("\n"), *(piece.strip("\n") for piece in found.pieces[1:])]
        content = "\n".join(t for t in texts if t)
    turn: ParsedTurn = {"content": content, "tool_calls": found.calls}
    if reasoning is not None:
        turn["reasoning_content"] = reasoning
    return turn


def _split_think(text: str) -> tuple[str | None, str]:
    """The template's exact ``<think>\\n..\\n</think>\\n\\n`` block first, then any looser leading think block."""
    exact = _THINK.match(text)
    if exact:
        return exact.group(1), text[exact.end():]
    return split_reasoning(text)


def _tool_call(payload: str, index: int) -> ToolCall:
    """One call from a tag's JSON payload."""
    return tool_call_from_json(payload, index, OPEN_TAG)
