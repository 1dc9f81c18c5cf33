"""Parse text generated for the ``llama3.1`` / ``llama3.2`` templates back into an assistant turn.

Llama 3.1+ writes a custom-tool call as one JSON object ``{"name": ..., "parameters": {...}}`` (``"arguments"`` is
accepted too), optionally after ``<|python_tag|>``; several calls are separated by ``; `` (the spelling vLLM's
``llama3_json`` parser reads and this project's templates render). Built-in tools are written as
``<|python_tag|>brave_search.call(query="...")``; any other ``<|python_tag|>`` text is code for the built-in
``code_interpreter`` (as Meta's reference ``llama-models`` decodes it). Text before the calls (an extension of this
project's templates) is separated from them by a blank line.

Strict: a reply whose calls start like a JSON call but do not parse (malformed, cut off, or a ``;`` that ends the
text) raises ToolCallParseError, and so does ``<|python_tag|>`` after text; any other text is plain content.
Lenient (``strict=False``, as SGLang's ``llama32`` detector reads it): calls also start at a ``<|python_tag|>`` after
text; a call cut off by the end of the text yields no call and none of its text, complete calls before it are kept;
a complete JSON value that is not a call comes back as content; content comes back without surrounding whitespace.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from ._lenient import is_cut_off_json, json_prefix, lenient_content
from .qwen import strip_stop_tokens, tool_call_from_object

STOP_TOKENS = ("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>")
PYTHON_TAG = "<|python_tag|>"
CALL_SEPARATOR = ";"
_CALL_START = re.compile(r"\n\n(?=\s*(?:\{|<\|python_tag\|>))")
_LOOKS_LIKE_CALL = re.compile(r'\s*(?:<\|python_tag\|>)?\s*\{\s*"(?:name|type|function)"\s*:')
_CALL_KEYS = ("name", "type", "function")


def _prefix_pattern(word: str) -> str:
    """A regex matching every prefix of ``word`` followed by ``"`` (``n``, ``na``, ... ``name"``)."""
    pattern = '"\\s*'
    for char in reversed(word):
        pattern = f"{re.escape(char)}(?:{pattern})?"
    return pattern


_CUT_OFF_CALL_START = re.compile(r'\s*(?:<\|python_tag\|>)?\s*\{\s*(?:"(?:' + "|".join(map(_prefix_pattern, _CALL_KEYS))
                                 + r')?)?\Z')
"""A text cut off before it could tell whether it starts a call: ``{``, ``{"``, ``{"na``, ``{"name"`` ..."""
_DECODER = json.JSONDecoder()


def parse(text: str, strict: bool = True) -> ParsedTurn:
    """``{content, tool_calls}`` of one generated turn; in strict mode ToolCallParseError on a malformed call."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    body = strip_stop_tokens(text, STOP_TOKENS)
    return _strict_turn(body) if strict else _lenient_turn(body)


@dataclass(frozen=True)
class _Reading:
    """What reading a call sequence at some position of the text found."""

    calls: list[ToolCall]
    rest: str
    """The text that is not part of the sequence ('' when it all is)."""
    error: str | None = None
    """Why a JSON value of the sequence (the first, or one after a ``;``) is not a call; None otherwise."""
    cut_off: bool = False
    """The sequence ends in a JSON value or a ``;`` that the end of the text cuts off."""


def _strict_turn(body: str) -> ParsedTurn:
    for start in _call_starts(body):
        reading = _read_calls(body[start:])
        if reading.error and (reading.calls or _starts_like_call(body[start:])):
            raise ToolCallParseError(f"tool call is not valid JSON: {reading.error}")
        if reading.calls and not reading.rest:
            return {"content": body[:start].removesuffix("\n\n"), "tool_calls": reading.calls}
    stripped = body.strip()
    if stripped.startswith(PYTHON_TAG):
        code = stripped[len(PYTHON_TAG):].strip()
        return {"content": "", "tool_calls": [_call("code_interpreter", {"code": code}, 0)]}
    if PYTHON_TAG in body:
        raise ToolCallParseError(f"{PYTHON_TAG} after text: the template separates text and calls with a blank line")
    return {"content": body, "tool_calls": []}


def _lenient_turn(body: str) -> ParsedTurn:
    tag = body.find(PYTHON_TAG)
    for start in sorted({*_call_starts(body), *([tag] if tag >= 0 else [])}):
        reading = _read_calls(body[start:])
        kept = [] if reading.cut_off else [reading.rest]
        if reading.calls:
            return {"content": lenient_content([body[:start], *kept]), "tool_calls": reading.calls}
        if reading.cut_off and (start == tag or _starts_like_call(body[start:])):
            return {"content": lenient_content([body[:start]]), "tool_calls": []}
        if start == tag:
            if reading.rest.startswith("{"):  # JSON that is not a call: text, without the tag
                return {"content": lenient_content([body[:start], reading.rest]), "tool_calls": []}
            code = body[start + len(PYTHON_TAG):].strip()
            return {"content": lenient_content([body[:start]]),
                    "tool_calls": [_call("code_interpreter", {"code": code}, 0)]}
    return {"content": body, "tool_calls": []}


def _starts_like_call(text: str) -> bool:
    """Whether ``text`` starts like a JSON call, or is cut off before it could tell."""
    return bool(_LOOKS_LIKE_CALL.match(text) or _CUT_OFF_CALL_START.match(text))


def _call_starts(body: str) -> list[int]:
    """Where a call sequence may start: the beginning of the text, or after a blank line."""
    return [0, *(m.end() for m in _CALL_START.finditer(body))]


def _is_call_object(data: object) -> bool:
    """``{"name", "parameters"|"arguments"}``, or the same wrapped as ``{"function": {...}}``."""
    if isinstance(data, dict) and isinstance(data.get("function"), dict) and "name" not in data:
        data = data["function"]
    return isinstance(data, dict) and "name" in data and ("parameters" in data or "arguments" in data)


def _read_calls(text: str) -> _Reading:
    """The longest call sequence at the start of ``text`` and what stopped it."""
    rest = text.strip()
    tagged = rest.startswith(PYTHON_TAG)
    rest = rest.removeprefix(PYTHON_TAG).lstrip()
    calls: list[ToolCall] = []
    while rest:
        if not rest.startswith("{"):
            builtin = _builtin_calls(rest, len(calls)) if tagged else None
            return _Reading(calls + builtin, "") if builtin else _Reading(calls, rest)
        decoded = json_prefix(rest)
        if decoded is None:
            return _Reading(calls, rest, _json_error(rest), is_cut_off_json(rest))
        data, after = decoded
        if not _is_call_object(data):
            return _Reading(calls, rest, f"not a call object: {rest[:80]!r}" if calls else None)
        try:
            calls.append(tool_call_from_object(data, len(calls), "tool call"))
        except ToolCallParseError as exc:
            return _Reading(calls, rest, str(exc))
        rest = after.lstrip()
        if rest.startswith(CALL_SEPARATOR):
            rest = rest[len(CALL_SEPARATOR):].lstrip().removeprefix(PYTHON_TAG).lstrip()
            if not rest:
                return _Reading(calls, "", f"{CALL_SEPARATOR!r} ends the text (cut off?)", True)
    return _Reading(calls, "")


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


def _json_error(text: str) -> str:
    """Why the JSON value at the start of ``text`` does not decode."""
    try:
        _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        return f"{exc.msg}: line {exc.lineno} column {exc.colno}: {text[:80]!r}"
    except RecursionError:
        return f"nested too deeply: {text[:80]!r}"
    return f"not a call: {text[:80]!r}"
