"""Parse text generated for the ``glm4`` templates back into an assistant turn.

After the ``<|assistant|>`` generation prompt GLM-4 writes one or more blocks separated by ``<|assistant|>``: a text
block is ``\\nTEXT``, a call block is ``NAME\\n{JSON arguments}``; it stops at ``<|observation|>`` after calls, at
``<|user|>`` (or ``<|endoftext|>``) otherwise. Text blocks are joined into ``content`` (newline-separated when there
are several; a first block with no newline at all is kept as text), call blocks become ``tool_calls``. The model
writes no reasoning block, so ``reasoning_content`` is never set.

Strict: a call body that is not a JSON object (GLM-4's built-in ``python`` / ``cogview`` tools write code or prose
there), or is cut off, raises ToolCallParseError naming the tool, and so does a block after ``<|assistant|>`` without
a newline (a call cut off in its name). Lenient (``strict=False``): such blocks yield no call; a body cut off (empty,
or a JSON object never closed) is dropped with its name, any other body comes back as content; a first block that is
a bare name (no newline: GLM-4 starts text with one) is a call cut off too; content comes back without surrounding
whitespace when the turn has call blocks.
"""

from __future__ import annotations

import re

from ..arguments import parse_arguments
from ..errors import InvalidRecord
from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from ._lenient import attempt, is_cut_off_json, lenient_content
from .qwen import strip_stop_tokens

STOP_TOKENS = ("<|observation|>", "<|user|>", "<|endoftext|>")
TURN_TOKEN = "<|assistant|>"
_TOOL_NAME = re.compile(r"[\w.\-]+")


def parse(text: str, strict: bool = True) -> ParsedTurn:
    """``{content, tool_calls}`` of one generated turn; in strict mode ToolCallParseError on a malformed call."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    body = strip_stop_tokens(text, STOP_TOKENS).removeprefix(TURN_TOKEN)
    blocks = body.split(TURN_TOKEN)
    if len(blocks) > 1 and not blocks[-1]:
        blocks.pop()  # the turn ends with the next assistant turn's role token
    texts: list[str] = []
    calls: list[ToolCall] = []
    markup = False
    for position, block in enumerate(blocks):
        name, newline, payload = block.partition("\n")
        if not newline and (position > 0 or (not strict and _TOOL_NAME.fullmatch(block))):
            if strict:
                raise ToolCallParseError(f"block after {TURN_TOKEN} has no newline (a call cut off?): {block[:80]!r}")
            markup = True  # a call cut off in its name (a text block starts with a newline)
        elif not newline or not name.strip():
            texts.append(payload if newline else block)
        else:
            markup = True
            call = attempt(strict, lambda: _tool_call(name.strip(), payload, len(calls)))
            if call is not None:
                calls.append(call)
            elif payload.strip() and not is_cut_off_json(payload):
                texts.append(payload)
    if markup and not strict:
        return {"content": lenient_content(texts), "tool_calls": calls}
    return {"content": "\n".join(t for t in texts if t) if len(texts) > 1 else "".join(texts), "tool_calls": calls}


def _tool_call(name: str, payload: str, index: int) -> ToolCall:
    if not payload.strip().startswith("{"):
        raise ToolCallParseError(
            f"call to {name!r}: body is not a JSON object (built-in tool output?): {payload[:80]!r}")
    try:
        arguments, _ = parse_arguments(payload)
    except InvalidRecord as exc:
        raise ToolCallParseError(f"call to {name!r}: {exc.reason}") from None
    return {"id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": arguments}}
