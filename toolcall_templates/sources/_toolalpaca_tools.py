"""Build tool definitions from ToolAlpaca's prose function descriptions.

A ``Function_Description`` value reads::

    Get long weekends for a given country
    Parameters: {"year": "Required. integer. ", "countryCode": "Required. string. Two-character country code."}
    Output: Success.
     - Format: text/plain
     - Structure: Array[#LongWeekendV3Dto]

Each parameter text is ``[Required.|Optional.] <type>. [One of: [a, b].] <description>`` where ``<type>`` is
``string`` / ``integer`` / ``number`` / ``boolean`` / ``Object`` / ``Object{...}`` / ``Array[<type>]``. The tool
description is the summary line plus the ``Output:`` block (what the agent sees in ToolAlpaca's prompt); the
``components`` entry (output structure definitions, not a function) is skipped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InvalidRecord
from ..schema import Tool
from ..tool_schema import map_type_name, normalize_schema

NOT_FUNCTIONS = {"components"}
_PARAMETERS = "Parameters:"
_FLAG = re.compile(r"^\s*(Required|Optional)\s*\.\s*", re.IGNORECASE)
_ENUM = re.compile(r"One of:\s*\[([^\]]*)\]\.?\s*")
_TYPE_WORDS = {"string", "integer", "int", "number", "float", "double", "boolean", "bool", "object", "array", "list",
               "dict", "any"}


def tools_from_descriptions(descriptions: Any) -> list[Tool]:
    """One tool per function of a ``Function_Description`` mapping (in its order)."""
    if not isinstance(descriptions, dict) or not descriptions:
        raise InvalidRecord("ToolAlpaca record has no 'Function_Description' mapping of functions")
    tools: list[Tool] = []
    for name, text in descriptions.items():
        if name in NOT_FUNCTIONS:
            continue
        if not isinstance(text, str):
            raise InvalidRecord(f"Function_Description[{name!r}] must be text, got {type(text).__name__}")
        description, parameters = _split_description(text, name)
        tools.append({"type": "function",
                      "function": {"name": name, "description": description, "parameters": parameters}})
    return tools


def _split_description(text: str, name: str) -> tuple[str, dict[str, Any]]:
    at = text.find(_PARAMETERS)
    if at == -1:
        return text.strip(), {"type": "object", "properties": {}}
    start = at + len(_PARAMETERS)
    while start < len(text) and text[start] in " \t":
        start += 1
    try:
        raw, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"Function_Description[{name!r}]: Parameters are not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise InvalidRecord(f"Function_Description[{name!r}]: Parameters must be a JSON object")
    summary, rest = text[:at].strip(), text[end:].strip()
    description = f"{summary}\n{rest}" if summary and rest else summary or rest
    return description, _parameters_schema(raw, name)


def _parameters_schema(raw: dict[str, Any], function: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in raw.items():
        if isinstance(spec, dict):
            properties[name] = normalize_schema(spec)
            continue
        if not isinstance(spec, str):
            raise InvalidRecord(f"Function_Description[{function!r}]: parameter {name!r} must be described by text")
        schema, is_required = parameter_schema(spec)
        properties[name] = schema
        if is_required:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def parameter_schema(spec: str) -> tuple[dict[str, Any], bool]:
    """``("Required. integer. The year.")`` → ``({"type": "integer", "description": "The year."}, True)``."""
    flag = _FLAG.match(spec)
    is_required = bool(flag) and flag.group(1).lower() == "required"
    rest = spec[flag.end():] if flag else spec
    type_token, after = _type_token(rest)
    schema: dict[str, Any] = _type_schema(type_token) if type_token else {}
    if type_token:
        rest = after
    enum_match = _ENUM.search(rest)
    if enum_match:
        values = [v.strip() for v in enum_match.group(1).split(",") if v.strip()]
        if values:
            schema["enum"] = [_typed(v, schema.get("type")) for v in values]
        if enum_match.start() == len(rest) - len(rest.lstrip()):
            rest = rest[enum_match.end():]
    description = rest.strip()
    if description:
        schema["description"] = description
    return schema, is_required


def _type_token(text: str) -> tuple[str | None, str]:
    """The leading type token (``Array[Object{a: string}]``) and the text after its ``.``, if it is a type."""
    depth = 0
    for index, char in enumerate(text):
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "." and depth == 0:
            token = text[:index].strip()
            return (token, text[index + 1:]) if _is_type(token) else (None, text)
    token = text.strip()
    return (token, "") if _is_type(token) else (None, text)


def _is_type(token: str) -> bool:
    head = re.split(r"[\[{]", token, maxsplit=1)[0].strip().lower()
    return head in _TYPE_WORDS


def _type_schema(token: str) -> dict[str, Any]:
    head = re.split(r"[\[{]", token, maxsplit=1)[0].strip().lower()
    if head in ("array", "list"):
        inner = token[token.find("[") + 1: token.rfind("]")].strip() if "[" in token and "]" in token else ""
        item = _type_schema(inner) if inner and _is_type(inner) else {}
        return {"type": "array", "items": item} if item else {"type": "array"}
    if head in ("object", "dict"):
        return {"type": "object"}
    mapped, _ = map_type_name(head)
    return mapped


def _typed(value: str, json_type: str | None) -> Any:
    if json_type in ("integer", "number"):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if json_type == "integer" and number.is_integer() else number
    if json_type == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value
