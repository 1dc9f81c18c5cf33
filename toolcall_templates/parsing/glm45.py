"""Parse text generated for the ``glm4.5`` template (GLM-4.5 / GLM-4.6) back into an assistant turn.

After the ``<|assistant|>`` generation prompt the model writes ``\\n<think>REASONING</think>`` (an empty
``<think></think>`` without reasoning; with thinking off the prompt already holds it), ``\\nTEXT`` when it has text, and
one block per call::

    \\n<tool_call>NAME
    <arg_key>KEY</arg_key>
    <arg_value>VALUE</arg_value>
    </tool_call>

then stops at ``<|observation|>`` after calls, at ``<|user|>`` (or ``<|endoftext|>``) otherwise. The reasoning and
the text are stripped, as the template strips them (an empty reasoning is left out); a call's name runs to the end of
its line or to its first ``<arg_key>`` (GLM-4.7 writes no newlines).

Values are text. As in vLLM's ``glm45`` parser, a value whose parameter is declared ``string`` in the ``tools`` stays
text; any other value (every value when no tools are given) is read as JSON, else as a Python literal, else kept as
text. Unlike vLLM, values and keys are not stripped: the template writes them verbatim.

``strict=False`` (``_lenient.py``) reads model output as vLLM does: a think block never closed is all reasoning, a
block cut off before ``</tool_call>`` yields no call (more arguments may have followed) and leaves no markup, a block
that is not a call (no name) yields no call, text between argument pairs is ignored, and the content comes back
without surrounding whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from ._lenient import lenient_content, read_tagged_calls
from ._parameter_types import NOT_A_LITERAL, ParameterTypes, decode_literal
from .qwen import strip_stop_tokens
from .qwen_xml import split_reasoning

TAKES_TOOLS = True
"""``parse`` takes ``tools=`` to type values (``parse_assistant`` passes them on)."""
STOP_TOKENS = ("<|observation|>", "<|user|>", "<|endoftext|>", "<|assistant|>", "<|system|>")
"""Trailing tokens that end a generated turn: GLM-4.5's stop tokens, and the other role tokens the template writes
inside a generation block when the next message is an assistant or system turn."""
OPEN_TAG, CLOSE_TAG = "<tool_call>", "</tool_call>"
KEY_OPEN = "<arg_key>"
_ARGUMENT = re.compile(r"<arg_key>(.*?)</arg_key>\s*<arg_value>(.*?)</arg_value>", re.DOTALL)


def parse(text: str, strict: bool = True, *, tools: Sequence[Any] | None = None) -> ParsedTurn:
    """``{content, tool_calls[, reasoning_content]}`` of one generated turn; in strict mode ToolCallParseError on a
    malformed call. ``tools`` (the conversation's tool definitions) type the argument values."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    reasoning, body = split_reasoning(strip_stop_tokens(text, STOP_TOKENS), opening_tag=True, strict=strict)
    types = ParameterTypes(tools)
    cut_off = not strict and _unclosed_call(body)
    if cut_off:  # as vLLM's pattern, a call without its </tool_call> is no call: more arguments may have followed
        body = body[:body.rfind(OPEN_TAG)]
    found = read_tagged_calls(body, OPEN_TAG, CLOSE_TAG,
                              lambda payload, index: _tool_call(payload, index, types, strict), strict)
    if strict or found.markup or cut_off:
        content = lenient_content(found.pieces)
    else:  # text as it is, without the newline the template writes before it
        content = body.removeprefix("\n")
    turn: ParsedTurn = {"content": content, "tool_calls": found.calls}
    if reasoning:
        turn["reasoning_content"] = reasoning
    return turn


def _unclosed_call(body: str) -> bool:
    """Whether the last ``<tool_call>`` of ``body`` is never closed (generation stopped inside it)."""
    start = body.rfind(OPEN_TAG)
    return start >= 0 and body.find(CLOSE_TAG, start) < 0


def _tool_call(payload: str, index: int, types: ParameterTypes, strict: bool) -> ToolCall:
    """One call from the inside of a ``<tool_call>`` block: ``NAME`` then ``<arg_key>``/``<arg_value>`` pairs."""
    ends = [end for end in (payload.find("\n"), payload.find(KEY_OPEN)) if end >= 0]
    name_end = min(ends) if ends else len(payload)
    name = payload[:name_end].strip()
    if not name or "<" in name:
        raise ToolCallParseError(f"{OPEN_TAG} block without a function name: {payload[:80]!r}")
    arguments: dict[str, Any] = {}
    rest, position = payload[name_end:], 0
    for match in _ARGUMENT.finditer(rest):
        if strict and rest[position:match.start()].strip():
            raise ToolCallParseError(f"unexpected text in the call to {name!r}: {rest[position:match.start()][:80]!r}")
        key = match.group(1)
        arguments[key] = typed_value(match.group(2), types.declared_type(name, key))
        position = match.end()
    if strict and rest[position:].strip():
        raise ToolCallParseError(f"unexpected text or an unpaired <arg_key> in the call to {name!r}: "
                                 f"{rest[position:][:80]!r}")
    return {"id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": arguments}}


def typed_value(value: str, declared: Any) -> Any:
    """An ``<arg_value>`` as vLLM's ``glm45`` parser types it: text for a declared ``string``, else a literal."""
    if declared == "string":
        return value
    literal = decode_literal(value)
    return value if literal is NOT_A_LITERAL else literal
