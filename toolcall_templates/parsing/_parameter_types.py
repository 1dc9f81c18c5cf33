"""Declared parameter types, for parsers of formats that write argument values as bare text.

GLM-4.5 (``<arg_value>v</arg_value>``) and Qwen3.5+ (``<parameter=p>\\nv\\n</parameter>``) write a string argument as
its text and any other value as JSON (Qwen3.5: Python's ``str``), so ``"5"`` and ``5`` look alike; the serving
engines' parsers type each value by the tool's declared JSON Schema. This module reads those declarations from the
``tools`` a parser is given (canonical ``{"type": "function", "function": {...}}`` or bare ``{"name", "parameters"}``
specs, ``parameters`` as a mapping or JSON text) and decodes value literals.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from typing import Any

UNDECLARED = object()
"""``declared_type`` of a parameter the tools do not declare (or of any parameter when no tools are given)."""
NOT_A_LITERAL = object()
"""``decode_literal`` of text that is neither JSON nor a Python literal."""


class ParameterTypes:
    """``{tool name: {parameter: JSON Schema type}}`` of a tool list; a type is one lowercase string (for a list
    of types, the first that is not ``"null"``) or None when the parameter declares none."""

    def __init__(self, tools: Sequence[Any] | None):
        self.by_tool: dict[str, dict[str, str | None]] = {}
        for tool in tools or []:
            spec = tool.get("function") if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping) \
                else tool
            if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
                continue
            properties = _properties(spec.get("parameters"))
            self.by_tool[spec["name"]] = {name: schema_type(schema) for name, schema in properties.items()}

    def declared_type(self, tool: str, parameter: str) -> Any:
        """The parameter's type, None when it is declared without one, ``UNDECLARED`` when it is not declared."""
        return self.by_tool.get(tool, {}).get(parameter, UNDECLARED)


def schema_type(schema: Any) -> str | None:
    """A property schema's ``type`` as one lowercase string (None when absent)."""
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind.strip().lower() if isinstance(kind, str) else None


def decode_literal(text: str) -> Any:
    """``text`` as JSON, else as a Python literal (``ast.literal_eval``, never ``eval``), else ``NOT_A_LITERAL``."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return NOT_A_LITERAL


def _properties(parameters: Any) -> Mapping[str, Any]:
    if isinstance(parameters, str):
        try:
            parameters = json.loads(parameters)
        except json.JSONDecodeError:
            return {}
    if not isinstance(parameters, Mapping):
        return {}
    properties = parameters.get("properties")
    return properties if isinstance(properties, Mapping) else {}
