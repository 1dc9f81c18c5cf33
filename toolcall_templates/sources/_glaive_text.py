"""Glaive-style text pieces shared by the raw Glaive and the ShareGPT re-exports of it.

* ``parse_call_payload``: ``{"name": "f", "arguments": '{"a": "NASA's"}'}`` — the arguments are a single-quoted
  string holding JSON, so the payload is neither JSON nor (with apostrophes inside) a Python literal.
* ``split_system_schemas``: a system prompt followed by one or more pretty-printed JSON function schemas,
  concatenated without list brackets.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..arguments import parse_json_value
from ..errors import InvalidRecord

_DECODER = json.JSONDecoder()
_QUOTED_ARGUMENTS = re.compile(r'"arguments"\s*:\s*\'')
_NAME = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_CLOSING = re.compile(r"'\s*}")


def parse_call_payload(text: str) -> tuple[str, Any, str]:
    """Parse a call payload at the start of ``text``: ``(name, raw_arguments, text_after_the_payload)``.

    Accepts JSON (arguments as object or JSON string), the Glaive single-quoted arguments string (apostrophes
    inside allowed), and Python-literal dicts. Raises InvalidRecord naming the payload when none applies.
    """
    text = text.lstrip()
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        value, end = None, 0
    if isinstance(value, dict):
        return _name_of(value, text), _arguments_of(value), text[end:]
    quoted = _quoted_arguments_payload(text)
    if quoted is not None:
        return quoted
    try:
        value = parse_json_value(text, "call payload")
    except InvalidRecord:
        value = None
    if isinstance(value, dict):
        return _name_of(value, text), _arguments_of(value), ""
    raise InvalidRecord(f"call payload is neither JSON nor a Glaive quoted-arguments object: {text[:160]!r}")


def _quoted_arguments_payload(text: str) -> tuple[str, Any, str] | None:
    """Glaive's ``"arguments": '<json>'``: try closing quotes from the nearest on until the inside is JSON."""
    match = _QUOTED_ARGUMENTS.search(text)
    if not match:
        return None
    start = match.end()
    closings = list(_CLOSING.finditer(text, start))
    for closing in closings:
        inner = text[start:closing.start()]
        arguments = _json_or_none(inner)
        if arguments is None and "\\'" in inner:
            arguments = _json_or_none(inner.replace("\\'", "'"))
        if arguments is not None:
            return _named(text, match, closing, arguments)
    if closings:  # not JSON inside: hand the raw string on (the argument parser tries a Python literal)
        return _named(text, match, closings[-1], text[start:closings[-1].start()])
    return None


def _named(text: str, arguments_match: re.Match, closing: re.Match, arguments: Any) -> tuple[str, Any, str]:
    head = text[:arguments_match.start()] + text[closing.end() - 1:]
    name = _NAME.search(head)
    if not name:
        raise InvalidRecord(f"call payload has no \"name\": {text[:160]!r}")
    return json.loads(f'"{name.group(1)}"'), arguments, text[closing.end():]


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _name_of(value: dict, text: str) -> str:
    function = value.get("function")
    name = function.get("name") if isinstance(function, dict) else value.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRecord(f"call payload has no function name: {text[:160]!r}")
    return name


def _arguments_of(value: dict) -> Any:
    function = value.get("function") if isinstance(value.get("function"), dict) else value
    for key in ("arguments", "parameters", "args"):
        if key in function:
            return function[key]
    return None


def split_system_schemas(text: str) -> tuple[str, list[dict]]:
    """``(prompt_text, schemas)``: JSON objects (or one JSON list of them) concatenated after a prompt.

    The prompt is the text before the first schema, with a dangling ``-``/``:`` separator removed when schemas
    follow. Text after the schemas that is not JSON is kept, appended to the prompt. Raises InvalidRecord when
    a schema follows a valid one but is not valid JSON.
    """
    start = _first_schema_start(text)
    if start is None:
        return text.strip(), []
    schemas: list[dict] = []
    pos = start
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text) or text[pos] not in "{[":
            break
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            reason = f"function schema #{len(schemas)} in the system text is not valid JSON: {exc}"
            raise InvalidRecord(reason) from None
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict):
                raise InvalidRecord(f"function schema #{len(schemas)} in the system text is not an object")
            schemas.append(item)
    prompt = text[:start].rstrip()
    if prompt.endswith(("-", ":", "：")):
        prompt = prompt[:-1].rstrip()
    rest = text[pos:].strip()
    return (f"{prompt}\n{rest}" if prompt and rest else prompt or rest), schemas


def _first_schema_start(text: str) -> int | None:
    """Offset of the first ``{`` (or ``[{``) that opens a function schema (or a list of them)."""
    for match in re.finditer(r"[\[{]", text):
        pos = match.start()
        try:
            value, _ = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            continue
        items = value if isinstance(value, list) else [value]
        if items and all(_looks_like_schema(item) for item in items):
            return pos
    return None


def _looks_like_schema(item: Any) -> bool:
    """A function schema: a ``name`` string plus a ``description`` or ``parameters``."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return False
    return "parameters" in item or "description" in item
