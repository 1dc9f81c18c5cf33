"""Read a ``tools`` value as the LLaMA-Factory / GLM family of formats store it, then normalize it.

Accepted: a list or a single object; a JSON string of either (``"[]"`` = no tools); several JSON objects
concatenated in one string (Glaive ``function_description`` columns). Before normalizing, a function-level
``"required"`` list that sits next to ``parameters`` (xLAM / APIGen exports) is moved into the parameters schema,
where JSON Schema expects it.
"""

from __future__ import annotations

import json
from typing import Any

from ..arguments import parse_json_value
from ..errors import InvalidRecord
from ..schema import Tool
from ..tool_schema import normalize_tools
from ._glaive_text import split_system_schemas


def read_tools(value: Any, where: str = "tools") -> tuple[list[Tool], list[str]]:
    """Normalized tools and notes (skipped non-function tools) from a tools value in any accepted encoding."""
    raw = _decode(value, where)
    if raw is None:
        return [], []
    items = raw if isinstance(raw, list) else [raw]
    return normalize_tools([lift_required(item) for item in items], where)


def merge_tools(*groups: list[Tool]) -> list[Tool]:
    """Concatenate tool lists, keeping the first definition of each function name."""
    seen: set[str] = set()
    merged: list[Tool] = []
    for group in groups:
        for tool in group:
            name = tool["function"]["name"]
            if name not in seen:
                seen.add(name)
                merged.append(tool)
    return merged


def lift_required(item: Any) -> Any:
    """Copy of a tool definition whose function-level ``required`` list is moved into ``parameters``."""
    if not isinstance(item, dict):
        return item
    wrapped = isinstance(item.get("function"), dict)
    spec = item["function"] if wrapped else item
    required = spec.get("required")
    parameters = spec.get("parameters")
    if not isinstance(required, list) or not isinstance(parameters, dict) or "required" in parameters:
        return item
    spec = {k: v for k, v in spec.items() if k != "required"}
    spec["parameters"] = {**parameters, "required": required}
    return {**item, "function": spec} if wrapped else spec


def _decode(value: Any, where: str) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return value or None
    if not isinstance(value, str):
        raise InvalidRecord(f"{where} must be a list or a JSON string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError:
        prompt, schemas = split_system_schemas(text)
        if schemas and not prompt:
            return schemas
        decoded = parse_json_value(text, where)  # a Python literal, else InvalidRecord
    if isinstance(decoded, str):  # double-encoded
        return _decode(decoded, where)
    if decoded is not None and not isinstance(decoded, (list, dict)):
        raise InvalidRecord(f"{where} must hold a list of tools, got {type(decoded).__name__}")
    return decoded or None
