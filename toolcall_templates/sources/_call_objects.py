"""Calls written as JSON objects: ``{"name", "arguments"}`` (or ``parameters``), OpenAI-wrapped ``{"function": {...}}``
with an optional ``id``, one object or a list of them, decoded or as JSON text.

Shared by the formats that store calls this way: ms-swift ``tool_call`` messages, When2Call ``<TOOLCALL>`` lists and
answers, and the ``mapped`` format's call fields.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arguments import parse_json_value
from ..errors import InvalidRecord


class CallObject(NamedTuple):
    """One call: its name, its arguments in whatever encoding they came, and the upstream id when there was one."""

    name: Any
    arguments: Any
    call_id: str | None = None


def call_objects(value: Any, where: str) -> list[CallObject]:
    """The calls held by ``value`` (see module doc); InvalidRecord names ``where`` when it holds something else."""
    decoded = parse_json_value(value, where)
    items = decoded if isinstance(decoded, list) else [decoded]
    if not items:
        raise InvalidRecord(f"{where} holds an empty list of calls")
    calls = []
    for index, item in enumerate(items):
        label = f"{where}[{index}]" if isinstance(decoded, list) else where
        if not isinstance(item, dict):
            raise InvalidRecord(f"{label}: a call must be a JSON object, got {type(item).__name__}")
        function = item.get("function") if isinstance(item.get("function"), dict) else item
        if "name" not in function:
            raise InvalidRecord(f"{label}: call has no 'name'")
        arguments = next((function[key] for key in ("arguments", "parameters") if key in function), None)
        call_id = item.get("id") if isinstance(item.get("id"), str) and item.get("id") else None
        calls.append(CallObject(function["name"], arguments, call_id))
    return calls
