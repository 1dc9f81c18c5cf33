"""Parse text generated for the ``glm4`` templates back into an assistant turn.

After the ``<|assistant|>`` generation prompt GLM-4 writes one or more blocks separated by ``<|assistant|>``: a text
block is ``\\nTEXT``, a call block is ``NAME\\n{JSON arguments}``; it stops at ``<|observation|>`` after calls, at
``<|user|>`` (or ``<|endoftext|>``) otherwise. Text blocks are joined into ``content`` (newline-separated when there
are several; a block with no newline at all is kept as text), call blocks become ``tool_calls``. A call body that is
not a JSON object (GLM-4's built-in ``python`` / ``cogview`` tools write code or prose there) raises
ToolCallParseError naming the tool. The model writes no reasoning block, so ``reasoning_content`` is never set.
"""

from __future__ import annotations


from ..arguments import parse_arguments
from ..errors import InvalidRecord
from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from .qwen import strip_stop_tokens

STOP_TOKENS = ("<|observation|>", "<|user|>", "<|endoftext|>")
TURN_TOKEN = "<|assistant|>"


def parse(text: str) -> ParsedTurn:
    """``{content, tool_calls}`` of one generated turn; raises ToolCallParseError on a malformed call."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    body = strip_stop_tokens(text, STOP_TOKENS).removeprefix(TURN_TOKEN)
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in body.split(TURN_TOKEN):
        name, newline, payload = block.partition("\n")
        if not newline or not name.strip():
            texts.append(payload if newline else block)
        else:
            calls.append(_tool_call(name.strip(), payload, len(calls)))
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
