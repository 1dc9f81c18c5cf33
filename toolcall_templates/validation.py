"""Check tool calls against the declared tools: undeclared functions and arguments that violate the JSON Schema.

A small, dependency-free validator for the JSON Schema subset that tool definitions use (type, required, enum,
properties, items, additionalProperties, anyOf/oneOf). Findings are strings, one per problem, naming the message
and call so that a user can find them.
"""

from __future__ import annotations

from typing import Any

from .schema import Message, Tool

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _type_ok(value: Any, expected: str) -> bool:
    types = _PY_TYPES.get(expected)
    if types is None:
        return True
    if expected in ("integer", "number") and isinstance(value, bool):
        return False
    if expected == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, types)


def schema_errors(value: Any, schema: Any, path: str) -> list[str]:
    """Return the violations of ``value`` against ``schema`` (empty when it conforms)."""
    if not isinstance(schema, dict) or not schema:
        return []
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            if not any(not schema_errors(value, option, path) for option in options):
                return [f"{path}: matches none of the {combinator} alternatives"]
    expected = schema.get("type")
    if isinstance(expected, str) and not _type_ok(value, expected):
        return [f"{path}: expected {expected}, got {_json_type(value)}"]
    if isinstance(expected, list) and expected and not any(_type_ok(value, t) for t in expected if isinstance(t, str)):
        return [f"{path}: expected one of {expected}, got {_json_type(value)}"]
    errors: list[str] = []
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        errors.append(f"{path}: {value!r} is not one of the allowed values {enum}")
    if isinstance(value, dict):
        errors += _object_errors(value, schema, path)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    return errors


def _object_errors(value: dict, schema: dict, path: str) -> list[str]:
    errors: list[str] = []
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    for name in required:
        if isinstance(name, str) and name not in value:
            errors.append(f"{path}: missing required argument {name!r}")
    for name, item in value.items():
        if name in properties:
            errors += schema_errors(item, properties[name], f"{path}.{name}")
        elif properties and schema.get("additionalProperties") is not True:
            errors.append(f"{path}: unexpected argument {name!r}")
    return errors


def _json_type(value: Any) -> str:
    for name, types in _PY_TYPES.items():
        if _type_ok(value, name):
            return name
    return type(value).__name__


def validate_calls(messages: list[Message], tools: list[Tool] | None) -> list[str]:
    """Return one warning per undeclared call or argument violation in the conversation."""
    declared = {tool["function"]["name"]: tool["function"]["parameters"] for tool in tools or ()}
    warnings: list[str] = []
    for m_index, message in enumerate(messages):
        for c_index, call in enumerate(message.get("tool_calls") or []):
            name = call["function"]["name"]
            where = f"messages[{m_index}].tool_calls[{c_index}] {name}"
            if name not in declared:
                warnings.append(f"{where}: calls a tool that is not declared")
                continue
            for error in schema_errors(call["function"]["arguments"], declared[name], "arguments"):
                warnings.append(f"{where}: {error}")
    return warnings
