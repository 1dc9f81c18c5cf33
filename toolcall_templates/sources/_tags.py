"""XML-ish tag encodings of tool use: ``<tools>``, ``<tool_call>``, ``<tool_response>``, ``<function_call>``.

Used by the Hermes (NousResearch), Qwen2.5/Qwen3 and ms-swift ``hermes`` conventions. Payloads may be JSON or
Python literals (Hermes writes ``{'arguments': {...}, 'name': ...}``), may carry literal backslash-n sequences
instead of newlines (Hermes structured-extraction subset), may be a list (several calls), and may put the function
name inside ``arguments`` (also seen in Hermes data): all of these are parsed and the repair recorded.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from ..arguments import dumps
from ..errors import InvalidRecord
from ..schema import Tool
from ._literal import decode_lines, try_decode
from ._prompt_tools import plugin_tools

REPAIR_ESCAPED_NEWLINES = "escaped_newlines"
REPAIR_NAME_IN_ARGUMENTS = "name_inside_arguments"

# Whole tool sections written by known templates: removed together with their block.
_TOOL_SECTIONS = {
    "tools": re.compile(  # Qwen2.5 / Qwen3 official templates
        r"(?:\n\n)?# Tools\n\nYou may call one or more functions to assist with the user query\.\n\n"
        r"You are provided with function signatures within <tools></tools> XML tags:\n<tools>.*?</tools>\n\n"
        r"For each function call, return a json object with function name and arguments within <tool_call></tool_call>"
        r" XML tags:\n<tool_call>\n\{\"name\": <function-name>, \"arguments\": <args-json-object>\}\n</tool_call>",
        re.DOTALL,
    ),
    "functions": re.compile(  # this project's chatml-function-call template
        r"(?:\n\n)?# Functions\n\nYou may call the following functions to help with the user query:\n"
        r"<functions>.*?</functions>\n\nTo call a function, write a JSON object with its name and arguments inside "
        r"<function_call></function_call> tags, one tag per call:\n"
        r"<function_call>\{\"name\": <function-name>, \"arguments\": <args-json-object>\}</function_call>",
        re.DOTALL,
    ),
}


class ParsedCall(NamedTuple):
    """A call read from a tag payload; ``repairs`` lists what had to be fixed to read it."""

    name: Any
    arguments: Any
    repairs: tuple[str, ...]


def tag_pattern(tag: str) -> re.Pattern:
    """``<tag>payload</tag>``; an unclosed last tag runs to the end of the text."""
    return re.compile(rf"<{tag}>(.*?)(?:</{tag}>|\Z)", re.DOTALL)


def split_tagged(text: str, tag: str) -> tuple[str, list[str]]:
    """``(text outside the tags, payloads)``; outside pieces are stripped and joined by newlines."""
    pattern = tag_pattern(tag)
    payloads: list[str] = []
    outside: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        outside.append(text[pos:match.start()])
        payloads.append(match.group(1))
        pos = match.end()
    outside.append(text[pos:])
    return "\n".join(piece.strip() for piece in outside if piece.strip()), payloads


def parse_call_payload(payload: str, tool_names: set[str], where: str) -> list[ParsedCall]:
    """Calls in one ``<tool_call>`` / ``<function_call>`` payload (an object, or a list of objects)."""
    repairs: list[str] = []
    text = payload.strip()
    value = try_decode(text)
    if value is None and "\\n" in text:
        text = text.replace("\\n", "\n").strip()
        value = try_decode(text)
        repairs.append(REPAIR_ESCAPED_NEWLINES)
    if value is None:
        value = decode_lines(text)
    if value is None:
        raise InvalidRecord(f"{where}: tool-call payload is neither JSON nor a Python literal: {payload.strip()[:120]!r}")
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidRecord(f"{where}: tool-call payload must be an object, got {type(item).__name__}")
        calls.append(_call_from_object(item, tool_names, tuple(repairs), where))
    return calls


def _call_from_object(item: dict, tool_names: set[str], repairs: tuple[str, ...], where: str) -> ParsedCall:
    function = item.get("function") if isinstance(item.get("function"), dict) else item
    name = function.get("name")
    arguments = function.get("arguments", function.get("parameters"))
    if name is None and isinstance(arguments, dict) and isinstance(arguments.get("name"), str):
        hoisted = arguments["name"]
        if hoisted in tool_names:
            arguments = {k: v for k, v in arguments.items() if k != "name"}
            return ParsedCall(hoisted, arguments, repairs + (REPAIR_NAME_IN_ARGUMENTS,))
        raise InvalidRecord(f"{where}: tool call has no 'name' (its arguments name {arguments['name']!r}, not a declared tool)")
    if name is None:
        raise InvalidRecord(f"{where}: tool call has no 'name': {dumps(item)[:120]}")
    return ParsedCall(name, arguments, repairs)


def response_payloads(text: str) -> list[str] | None:
    """Payloads of a turn made only of ``<tool_response>`` blocks; None when the text has other content."""
    outside, payloads = split_tagged(text, "tool_response")
    if not payloads or outside:
        return None
    return payloads


def unwrap_response(payload: str) -> tuple[str | None, str]:
    """``(name, content)`` of a result: the Hermes ``{"name", "content"}`` wrapper is unwrapped, else text as is."""
    text = payload.strip()
    if text.startswith("{") and ('"content"' in text or "'content'" in text):
        value = try_decode(text)
        if isinstance(value, dict) and set(value) == {"name", "content"} and isinstance(value["name"], str):
            content = value["content"]
            return value["name"], content if isinstance(content, str) else dumps(content)
    return None, text


def extract_tools(system: str, tag: str = "tools") -> tuple[list[Tool], str] | None:
    """``(tools, system text without them)`` when the text holds a non-empty ``<tag>`` block; None otherwise.

    A known template's whole tool section (Qwen2.5/Qwen3 "# Tools") is removed when present, else only the block.
    """
    block = re.compile(rf"<{tag}>(.*?)</{tag}>", re.DOTALL)
    match = next((m for m in block.finditer(system) if m.group(1).strip()), None)
    if not match:
        return None
    tools = parse_tools_block(match.group(1), f"<{tag}>")
    section = _TOOL_SECTIONS[tag].search(system) if tag in _TOOL_SECTIONS else None
    if section:
        rest = system[: section.start()] + system[section.end():]
    else:
        before, after = system[: match.start()].rstrip(), system[match.end():].lstrip()
        rest = before + ("\n" if before and after else "") + after
    return tools, rest.strip()


def parse_tools_block(inner: str, where: str = "<tools>") -> list[Tool]:
    """Tools inside ``<tools>``: a JSON / Python-repr list, or one object per line (Qwen template).

    Every entry must be a function tool (OpenAI-wrapped, bare, or Qwen plugin spec); anything else is an error.
    """
    text = inner.strip()
    if not text:
        return []
    value = try_decode(text)
    if value is None:
        value = decode_lines(text)
    if value is None:
        raise InvalidRecord(f"{where} block is neither JSON nor a Python literal: {text[:120]!r}")
    return plugin_tools(value, where)
