"""Parse text generated for the ``llama3.1`` / ``llama3.2`` templates back into an assistant turn.

Llama 3.1+ writes a custom-tool call as one JSON object ``{"name": ..., "parameters": {...}}`` (``"arguments"`` is
accepted too), optionally after ``<|python_tag|>``; several calls are separated by ``; `` (the spelling vLLM's
``llama3_json`` parser reads and this project's templates render). Built-in tools are written as
``<|python_tag|>brave_search.call(query="...")``; any other ``<|python_tag|>`` text is code for the built-in
``code_interpreter`` (as Meta's reference ``llama-models`` decodes it). Text before the calls (an extension of this
project's templates) is separated from them by a blank line. A reply that starts like a JSON call but does not parse
raises ToolCallParseError; any other text is plain content.
"""

from __future__ import annotations

import ast
import json
import re

from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from .qwen import strip_stop_tokens, tool_call_from_object

STOP_TOKENS = ("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>")
PYTHON_TAG = "<|python_tag|>"
CALL_SEPARATOR = ";"
_CALL_START = re.compile(r"\n\n(?=\s*(?:\{|<\|python_tag\|>))")
_LOOKS_LIKE_CALL = re.compile(r'\s*(?:<\|python_tag\|>)?\s*\{\s*"(?:name|type|function)"\s*:')
_DECODER = json.JSONDecoder()


def parse(text: str) -> ParsedTurn:
    """``{content, tool_calls}`` of one generated turn; raises ToolCallParseError on a malformed call."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    body = strip_stop_tokens(text, STOP_TOKENS)
    for start in [0, *(m.end() for m in _CALL_START.finditer(body))]:
        calls = _calls(body[start:])
        if calls is not None:
            return {"content": body[:start].removesuffix("\n\n"), "tool_calls": calls}
    stripped = body.strip()
    if _LOOKS_LIKE_CALL.match(body) and (error := _json_error(stripped)):
        raise ToolCallParseError(f"tool call is not valid JSON: {error}")
    if stripped.startswith(PYTHON_TAG):
        code = stripped[len(PYTHON_TAG):].strip()
        return {"content": "", "tool_calls": [_call("code_interpreter", {"code": code}, 0)]}
    return {"content": body, "tool_calls": []}


def _is_call_object(data: object) -> bool:
    """``{"name", "parameters"|"arguments"}``, or the same wrapped as ``{"function": {...}}``."""
    if isinstance(data, dict) and isinstance(data.get("function"), dict) and "name" not in data:
        data = data["function"]
    return isinstance(data, dict) and "name" in data and ("parameters" in data or "arguments" in data)


def _calls(text: str) -> list[ToolCall] | None:
    """The calls when ``text`` is nothing but a call sequence, else None."""
    rest = text.strip()
    tagged = rest.startswith(PYTHON_TAG)
    rest = rest.removeprefix(PYTHON_TAG).lstrip()
    calls: list[ToolCall] = []
    while rest:
        if not rest.startswith("{"):
            builtin = _builtin_calls(rest, len(calls)) if tagged else None
            return calls + builtin if builtin else None
        try:
            data, end = _DECODER.raw_decode(rest)
        except json.JSONDecodeError:
            return None
        if not _is_call_object(data):
            return None
        try:
            calls.append(tool_call_from_object(data, len(calls), "tool call"))
        except ToolCallParseError:
            return None
        rest = rest[end:].lstrip()
        if rest.startswith(CALL_SEPARATOR):
            rest = rest[len(CALL_SEPARATOR):].lstrip().removeprefix(PYTHON_TAG).lstrip()
            if not rest:
                return None
        elif rest:
            return None
    return calls or None


def _builtin_calls(text: str, first_index: int) -> list[ToolCall] | None:
    """``tool.call(arg="value", ...)`` statements (``;``-separated), or None when the text is anything else."""
    try:
        module = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, RecursionError):
        return None
    calls: list[ToolCall] = []
    for statement in module.body:
        node = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call"
                and isinstance(node.func.value, ast.Name) and not node.args):
            return None
        arguments = {}
        for keyword in node.keywords:
            if keyword.arg is None or not isinstance(keyword.value, ast.Constant):
                return None
            arguments[keyword.arg] = keyword.value.value
        calls.append(_call(node.func.value.id, arguments, first_index + len(calls)))
    return calls or None


def _call(name: str, arguments: dict, index: int) -> ToolCall:
    return {"id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": arguments}}


def _json_error(text: str) -> str | None:
    """Why the leading JSON object does not decode (None when it decodes: then the text is plain content)."""
    candidate = text.removeprefix(PYTHON_TAG).lstrip()
    try:
        _DECODER.raw_decode(candidate)
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at column {exc.colno}: {candidate[:80]!r}"
    return None
