"""Parse text generated for the ``qwen3.5`` / ``qwen3.5-nothink`` / ``qwen3.6`` / ``qwen3.8`` templates back into an
assistant turn.

After its generation prompt (``<|im_start|>assistant\\n<think>\\n`` with thinking on) the model writes
``REASONING\\n</think>\\n\\n``, its text, and one block per call, ``\\n\\n`` after the text and ``\\n`` between
blocks::

    <tool_call>
    <function=NAME>
    <parameter=P>
    VALUE
    </parameter>
    </function>
    </tool_call>

then ``<|im_end|>``. The text before a ``</think>`` is ``reasoning_content``, stripped as the templates strip it
(an empty one is left out); the rest before the first block is the content.

Values are text. As in vLLM's ``qwen3_coder`` parser, one newline is taken off each end and, given the ``tools``, the
value is typed by the parameter's declared schema. String types keep the text (vLLM reads ``null`` as None for
every type). Otherwise ``null`` is None, integer and number types take a JSON number (vLLM turns ``2.0`` into ``2``;
here it stays a float), boolean types take ``true`` / ``false`` in any case (Qwen3.5 writes Python's ``True``), and
other types take JSON or a Python literal. A value that does not fit its type, and a parameter the tools do not
declare (every parameter when no tools are given), stays text. Qwen3.5 writes Python's ``None`` for a null value; for
a non-string type it reads back as None.

``strict=False`` (``_lenient.py``) reads model output as vLLM does: a leading ``<think>`` is dropped from the
reasoning (and a block it opens that is never closed is all reasoning), a block cut off before ``</function>`` yields
no call and leaves no markup, a block missing only ``</tool_call>`` or a parameter missing ``</parameter>`` still
counts, a bare ``<function=...>...</function>`` without ``<tool_call>`` is read as a call, and the content comes back
without surrounding whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from ._lenient import lenient_content, partial_tag_at_end, read_tagged_calls, tagged_blocks
from ._parameter_types import NOT_A_LITERAL, UNDECLARED, ParameterTypes, decode_literal
from .qwen import strip_stop_tokens

TAKES_TOOLS = True
"""``parse`` takes ``tools=`` to type values (``parse_assistant`` passes them on)."""
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
OPEN_TAG, CLOSE_TAG = "<tool_call>", "</tool_call>"
FUNCTION_OPEN, FUNCTION_CLOSE = "<function=", "</function>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_PARAMETER = re.compile(r"<parameter=([^>\n]*)>(.*?)</parameter>", re.DOTALL)
_OPEN_PARAMETER = re.compile(r"<parameter=([^>\n]*)>(.*?)(?:</parameter>|(?=<parameter=)|\Z)", re.DOTALL)
_STRING_TYPES = ("string", "str", "text", "varchar", "char", "enum")
_INTEGER_PREFIXES = ("int", "uint", "long", "short", "unsigned")
_NUMBER_PREFIXES = ("num", "float", "double")
_BOOLEAN_TYPES = ("boolean", "bool", "binary")


def parse(text: str, strict: bool = True, *, tools: Sequence[Any] | None = None) -> ParsedTurn:
    """``{content, tool_calls[, reasoning_content]}`` of one generated turn; in strict mode ToolCallParseError on a
    malformed call. ``tools`` (the conversation's tool definitions) type the argument values."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    reasoning, body = split_reasoning(strip_stop_tokens(text, STOP_TOKENS), opening_tag=not strict, strict=strict)
    types = ParameterTypes(tools)
    found = read_tagged_calls(body, OPEN_TAG, CLOSE_TAG,
                              lambda payload, index: _tool_call(payload, index, types, strict), strict)
    if strict:
        content = _content(found.pieces) if found.calls else body
    elif not found.markup and FUNCTION_OPEN in body:
        content, found.calls = _bare_functions(body, types)
    else:
        content = lenient_content(found.pieces) if found.markup else body
    turn: ParsedTurn = {"content": content, "tool_calls": found.calls}
    if reasoning:
        turn["reasoning_content"] = reasoning
    return turn


def split_reasoning(text: str, opening_tag: bool, strict: bool = True) -> tuple[str | None, str]:
    """``(reasoning, rest)``: the text before a ``</think>``, stripped, and the text after it; ``(None, text)`` when
    there is no ``</think>``. ``opening_tag``: a leading ``<think>`` opens the block (it is not reasoning). Lenient
    (``strict=False``): a think tag cut off at the end is dropped, and a block opened by ``<think>`` but never closed
    (generation stopped while reasoning) is all reasoning."""
    if not strict:
        text = text[:len(text) - (partial_tag_at_end(text, THINK_CLOSE) or partial_tag_at_end(text, THINK_OPEN))]
    end = text.find(THINK_CLOSE)
    if end < 0:
        opened = text.lstrip()
        if not strict and opening_tag and opened.startswith(THINK_OPEN):
            return opened[len(THINK_OPEN):].strip(), ""
        return None, text
    reasoning = text[:end].strip()
    if opening_tag and reasoning.startswith(THINK_OPEN):
        reasoning = reasoning[len(THINK_OPEN):].strip()
    return reasoning, text[end + len(THINK_CLOSE):].lstrip("\n")


def _tool_call(payload: str, index: int, types: ParameterTypes, strict: bool) -> ToolCall:
    """One call from the inside of a ``<tool_call>`` block."""
    inner = payload.strip()
    if not inner.startswith(FUNCTION_OPEN):
        raise ToolCallParseError(f"{OPEN_TAG} block without {FUNCTION_OPEN}NAME>: {inner[:80]!r}")
    name_end = inner.find(">")
    close = inner.rfind(FUNCTION_CLOSE)
    if name_end < 0 or close < name_end:
        raise ToolCallParseError(f"unterminated {FUNCTION_OPEN}...> block (cut off?): {inner[:80]!r}")
    name = inner[len(FUNCTION_OPEN):name_end].strip()
    if not name:
        raise ToolCallParseError(f"{FUNCTION_OPEN}> without a function name")
    if strict and inner[close + len(FUNCTION_CLOSE):].strip():
        raise ToolCallParseError(f"text after {FUNCTION_CLOSE} in the call to {name!r}")
    arguments = _arguments(inner[name_end + 1:close], name, types, strict)
    return {"id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": arguments}}


def _arguments(text: str, name: str, types: ParameterTypes, strict: bool) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    position = 0
    for match in (_PARAMETER if strict else _OPEN_PARAMETER).finditer(text):
        if strict and text[position:match.start()].strip():
            raise ToolCallParseError(f"unexpected text in the call to {name!r}: {text[position:match.start()][:80]!r}")
        parameter = match.group(1).strip()
        value = match.group(2).removeprefix("\n").removesuffix("\n")
        arguments[parameter] = typed_value(value, types.declared_type(name, parameter))
        position = match.end()
    if strict and text[position:].strip():
        raise ToolCallParseError(f"unexpected text or an unterminated <parameter=...> in the call to {name!r}: "
                                 f"{text[position:][:80]!r}")
    return arguments


def typed_value(value: str, declared: Any) -> Any:
    """A parameter's text as the value of its declared type (see the module docstring)."""
    kind = "string" if declared is None else declared
    if kind in _STRING_TYPES:
        return value
    if value.lower() == "null" or (value == "None" and declared is not UNDECLARED):
        return None
    if declared is UNDECLARED:
        return value
    literal = decode_literal(value)
    if kind.startswith(_INTEGER_PREFIXES):
        return literal if type(literal) is int else value
    if kind.startswith(_NUMBER_PREFIXES):
        return literal if type(literal) in (int, float) else _float_or(value)
    if kind in _BOOLEAN_TYPES:
        return {"true": True, "false": False}.get(value.lower(), value)
    return value if literal is NOT_A_LITERAL else literal


def _float_or(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def _content(pieces: list[str]) -> str:
    """The text around the blocks, without the separators the template writes (``\\n\\n`` after the text, ``\\n``
    between blocks)."""
    texts = [pieces[0].removesuffix("\n\n"), *(piece.strip("\n") for piece in pieces[1:])]
    return "\n".join(t for t in texts if t)


def _bare_functions(body: str, types: ParameterTypes) -> tuple[str, list[ToolCall]]:
    """Lenient: ``<function=...>...</function>`` blocks written without ``<tool_call>`` (vLLM reads them too);
    a block cut off before ``</function>`` yields no call."""
    blocks, tail = tagged_blocks(body, FUNCTION_OPEN, FUNCTION_CLOSE)
    calls: list[ToolCall] = []
    for block in blocks:
        if block.closed:
            try:
                calls.append(_tool_call(FUNCTION_OPEN + block.payload + FUNCTION_CLOSE, len(calls), types, False))
            except ToolCallParseError:
                pass
    return lenient_content([block.before for block in blocks] + [tail]), calls
