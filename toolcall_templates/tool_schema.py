"""Normalize tool definitions from any source into ``{"type": "function", "function": {name, description, parameters}}``.

``parameters`` always becomes a JSON Schema object ``{"type": "object", "properties": {...}, "required": [...]}``.
Handled variants: OpenAI-wrapped or bare specs; xLAM flat argument maps (``{"arg": {"type": "str", "default": ..}}``);
BFCL ``"type": "dict"`` with Python / Java / JavaScript type names; ToolBench ``optional`` lists; type strings such as
``List[int]``, ``Optional[str]`` or ``str, optional``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .arguments import parse_json_value
from .errors import InvalidRecord
from .schema import Tool

_TYPE_NAMES: dict[str, str | None] = {
    "str": "string", "string": "string", "text": "string", "char": "string", "character": "string",
    "int": "integer", "integer": "integer", "long": "integer", "short": "integer", "byte": "integer",
    "bigint": "integer",
    "float": "number", "double": "number", "number": "number", "decimal": "number",
    "bool": "boolean", "boolean": "boolean",
    "dict": "object", "object": "object", "map": "object", "hashmap": "object", "mapping": "object",
    "list": "array", "array": "array", "tuple": "array", "set": "array", "arraylist": "array", "sequence": "array",
    "null": "null", "none": "null",
    "any": None,
}
_JSON_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}
_OPTIONAL_SUFFIX = re.compile(r"\s*,\s*(optional|default\s*[=:].*)\s*$", re.IGNORECASE | re.DOTALL)
_GENERIC = re.compile(r"^\s*([A-Za-z_.]+)\s*\[(.*)\]\s*$", re.DOTALL)


def _split_top_level(inner: str) -> list[str]:
    """Split generic arguments at commas that are not nested in brackets: ``Dict[str, List[int]]`` -> 2 parts."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(inner):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(inner[start:index].strip())
            start = index + 1
    parts.append(inner[start:].strip())
    return [part for part in parts if part]


def map_type_name(type_name: str) -> tuple[dict[str, Any], bool]:
    """Map a source type name to a JSON Schema fragment; the flag tells whether the name marked it optional."""
    name = type_name.strip()
    if not name:
        return {}, False
    optional = False
    if _OPTIONAL_SUFFIX.search(name):
        name, optional = _OPTIONAL_SUFFIX.sub("", name), True
    generic = _GENERIC.match(name)
    if generic:
        head, args = generic.group(1).split(".")[-1].lower(), _split_top_level(generic.group(2))
        if head == "optional":
            schema, _ = map_type_name(args[0]) if args else ({}, False)
            return schema, True
        if head == "union":
            options = [map_type_name(arg)[0] for arg in args if arg.lower() not in ("none", "nonetype")]
            return (options[0] if len(options) == 1 else {}), optional or len(options) < len(args)
        if head in ("list", "tuple", "set", "sequence", "array", "iterable"):
            item = map_type_name(args[0])[0] if len(args) == 1 or head != "tuple" else {}
            if head == "tuple" and args and len({json_key(map_type_name(a)[0]) for a in args}) == 1:
                item = map_type_name(args[0])[0]
            return ({"type": "array", "items": item} if item else {"type": "array"}), optional
        if head in ("dict", "mapping", "map"):
            return {"type": "object"}, optional
        mapped = _TYPE_NAMES.get(head)
        return ({"type": mapped} if mapped else {}), optional
    key = name.lower()
    if key.endswith("[]"):
        item, _ = map_type_name(name[:-2])
        return {"type": "array", "items": item} if item else {"type": "array"}, optional
    if key in _TYPE_NAMES:
        mapped = _TYPE_NAMES[key]
        return ({"type": mapped} if mapped else {}), optional
    return {"type": "string"}, optional


def json_key(schema: dict[str, Any]) -> str:
    """Order-independent text of a schema fragment, to compare fragments."""
    return json.dumps(schema, sort_keys=True)


def normalize_schema(node: Any) -> Any:
    """Recursively rewrite type names into JSON Schema ones; everything else is kept as it is."""
    if isinstance(node, list):
        return [normalize_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str) and value not in _JSON_TYPES:
            mapped, _ = map_type_name(value)
            out.update({k: v for k, v in mapped.items() if k not in node or k == "type"})
            continue
        if key == "type" and isinstance(value, list):
            out[key] = [(map_type_name(v)[0].get("type", v) if isinstance(v, str) else v) for v in value]
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: normalize_schema(prop) for name, prop in value.items()}
            continue
        if key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not", "prefixItems"):
            out[key] = normalize_schema(value)
            continue
        out[key] = value
    return out


def normalize_parameters(parameters: Any, where: str) -> dict[str, Any]:
    """Return a JSON Schema object for a function's parameters in any of the supported shapes."""
    parameters = parse_json_value(parameters, f"{where}: parameters")
    if parameters is None or parameters == {} or parameters == []:
        return {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise InvalidRecord(f"{where}: parameters must be an object, got {type(parameters).__name__}")
    if "properties" in parameters or parameters.get("type") in ("object", "dict"):
        schema = normalize_schema(parameters)
        schema["type"] = "object"
        schema.setdefault("properties", {})
        if schema.get("required") is None:
            schema.pop("required", None)
        schema.pop("optional", None)
        return schema
    return _flat_argument_map(parameters, where)


def _flat_argument_map(parameters: dict[str, Any], where: str) -> dict[str, Any]:
    """xLAM-style ``{"arg": {"type": "str", "description": .., "default": ..}}``: required = no default, not optional."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in parameters.items():
        if not isinstance(spec, dict):
            raise InvalidRecord(f"{where}: parameter {name!r} must be an object, got {type(spec).__name__}")
        prop = {k: v for k, v in spec.items() if k not in ("type", "required", "optional")}
        optional = "default" in spec or spec.get("optional") is True or spec.get("required") is False
        type_name = spec.get("type")
        if isinstance(type_name, str):
            mapped, marked_optional = map_type_name(type_name)
            optional = optional or marked_optional
            prop = {**mapped, **prop}
        properties[name] = normalize_schema(prop)
        if not optional:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def normalize_tool(raw: Any, where: str = "tool") -> Tool:
    """Normalize one tool definition; raises InvalidRecord when it is not a function tool."""
    raw = parse_json_value(raw, where)
    if not isinstance(raw, dict):
        raise InvalidRecord(f"{where}: a tool must be an object, got {type(raw).__name__}")
    spec = raw.get("function") if isinstance(raw.get("function"), dict) else raw
    if raw.get("type") not in (None, "function") and "function" not in raw:
        raise InvalidRecord(f"{where}: not a function tool (type {raw.get('type')!r})")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRecord(f"{where}: function has no name")
    description = spec.get("description")
    parameters = normalize_parameters(spec.get("parameters", spec.get("arguments")), f"{where} {name!r}")
    _lift_function_required(spec, parameters)
    return {
        "type": "function",
        "function": {
            "name": name.strip(),
            "description": description if isinstance(description, str) else ("" if description is None else str(description)),
            "parameters": parameters,
        },
    }


def _lift_function_required(spec: dict[str, Any], parameters: dict[str, Any]) -> None:
    """xLAM/APIGen style: a ``required`` list next to ``parameters`` belongs inside the parameters schema."""
    required = spec.get("required")
    if isinstance(required, list) and "required" not in parameters:
        names = [name for name in required if isinstance(name, str) and name in parameters.get("properties", {})]
        if names:
            parameters["required"] = names


def normalize_tools(raw: Any, where: str = "tools") -> tuple[list[Tool], list[str]]:
    """Normalize a tool list (list, JSON string, or None). Non-function tools are skipped with a warning."""
    raw = parse_json_value(raw, where)
    if raw is None or raw == "":
        return [], []
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise InvalidRecord(f"{where} must be a list, got {type(raw).__name__}")
    tools: list[Tool] = []
    warnings: list[str] = []
    for i, item in enumerate(raw):
        if isinstance(item, dict) and item.get("type") not in (None, "function") and "function" not in item:
            warnings.append(f"skipped non-function tool #{i} of type {item.get('type')!r}")
            continue
        tools.append(normalize_tool(item, f"{where}[{i}]"))
    return tools, warnings
