"""Bracket-aware reading of xLAM's Python-style type strings (``List[Dict[str, Any]]``, ``Optional[List[int]]``,
``Union[int, None]``, ``int, optional``, ``float, default=0.5``) into JSON Schema fragments.

Leaf names are mapped by ``tool_schema.map_type_name``; this module only adds what a flat reading gets wrong: nested
generics whose inner commas must not split the outer argument list, ``Union[..., None]`` as optional, and
``default=...`` suffixes. The flat argument map is then rewritten so that ``normalize_parameters`` keeps the result.
"""

from __future__ import annotations

import re
from typing import Any

from ..tool_schema import map_type_name

_GENERIC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\[(.*)\]\s*$", re.DOTALL)
_ARRAY_HEADS = {"list", "tuple", "set", "frozenset", "sequence", "iterable", "array"}
_OBJECT_HEADS = {"dict", "mapping", "map"}


def python_type_schema(text: str) -> tuple[dict[str, Any], bool]:
    """``(schema, optional)`` for a Python-style type string."""
    parts = _split_top_level(text)
    if not parts:
        return {}, False
    optional = any(p.lower() == "optional" or p.lower().startswith("default") for p in parts[1:])
    generic = _GENERIC.match(parts[0])
    if not generic:
        if parts[0].lower() in ("none", "nonetype"):
            return {"type": "null"}, optional
        schema, marked = map_type_name(parts[0])
        return schema, optional or marked
    head, args = generic.group(1).split(".")[-1].lower(), _split_top_level(generic.group(2))
    if head == "optional":
        inner, _ = python_type_schema(args[0]) if args else ({}, False)
        return inner, True
    if head == "union":
        members = [a for a in args if a.lower() not in ("none", "nonetype")]
        inner = python_type_schema(members[0])[0] if len(members) == 1 else {}
        return inner, optional or len(members) < len(args)
    if head in _ARRAY_HEADS:
        item = python_type_schema(args[0])[0] if args else {}
        return ({"type": "array", "items": item} if item else {"type": "array"}), optional
    if head in _OBJECT_HEADS:
        return {"type": "object"}, optional
    schema, _ = map_type_name(head)
    return schema, optional


def rewrite_flat_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """A flat argument map whose Python-style ``type`` strings are replaced by JSON Schema (+ ``optional``)."""
    out: dict[str, Any] = {}
    for name, spec in parameters.items():
        if isinstance(spec, dict) and isinstance(spec.get("type"), str):
            schema, optional = python_type_schema(spec["type"])
            spec = {key: value for key, value in spec.items() if key != "type"}
            spec = {**schema, **{k: v for k, v in spec.items() if k not in schema}}
            if optional:
                spec["optional"] = True
        out[name] = spec
    return out


def _split_top_level(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:index].strip())
            start = index + 1
    items.append(text[start:].strip())
    return [item for item in items if item]
