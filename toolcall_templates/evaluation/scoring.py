"""Score one generated assistant turn against its reference turn (the definitions are in ``evaluation/__init__``).

Calls are compared as ``(name, arguments)`` pairs, the arguments as JSON values: object key order does not matter,
list order does, numbers compare by value (``1`` equals ``1.0``, as JSON has one number type), ``true`` is not ``1``.
Parallel calls are compared as a multiset, so their order does not matter (BFCL's AST checker matches parallel calls
the same way, each reference call to a distinct generated one).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..validation import schema_errors


@dataclass
class TurnScore:
    """The findings for one turn; ``None`` where a score does not apply to the turn's kind."""

    calls_expected: bool
    """The reference turn calls tools (a *call turn*); else the model should not call (a *no-call turn*)."""
    name_match: bool | None
    """Call turns: the multiset of called tool names equals the reference's."""
    exact_match: bool | None
    """Call turns: the multiset of ``(name, arguments as JSON)`` equals the reference's."""
    no_call: bool | None
    """No-call turns: the model called no tool."""
    calls: int
    """Calls the model made."""
    valid_calls: int
    """Of those, calls of a declared tool whose arguments satisfy its JSON Schema."""
    stopped: bool
    """Generation ended on a stop token (not cut off by the token limit)."""
    parse_failure: bool
    """The output holds tool-call markup that does not read as a call (malformed, or cut off)."""
    errors: list[str] = field(default_factory=list)
    """Why calls are invalid (undeclared tool, schema violations) and why parsing failed."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_turn(reference_calls: Sequence[Mapping[str, Any]], generated_calls: Sequence[Mapping[str, Any]],
               tools: Sequence[Mapping[str, Any]] | None, *, stopped: bool,
               parse_error: str | None = None) -> TurnScore:
    """Score a turn: reference and generated calls as OpenAI-shaped calls (``{"function": {"name", "arguments"}}``
    or ``{"name", "arguments"}``), the row's tools, whether generation stopped on a stop token, and the reason the
    output did not parse (None when it did)."""
    expected = [call_pair(call) for call in reference_calls]
    generated = [call_pair(call) for call in generated_calls]
    call_turn = bool(expected)
    errors = [f"parse: {parse_error}"] if parse_error else []
    valid = 0
    declared = declared_parameters(tools)
    for index, (name, arguments) in enumerate(generated):
        problems = call_problems(name, arguments, declared)
        errors += [f"call {index} {name}: {problem}" for problem in problems]
        valid += not problems
    return TurnScore(
        calls_expected=call_turn,
        name_match=Counter(n for n, _ in generated) == Counter(n for n, _ in expected) if call_turn else None,
        exact_match=Counter(map(call_key, generated)) == Counter(map(call_key, expected)) if call_turn else None,
        no_call=None if call_turn else not generated,
        calls=len(generated),
        valid_calls=valid,
        stopped=stopped,
        parse_failure=parse_error is not None,
        errors=errors,
    )


def call_pair(call: Mapping[str, Any]) -> tuple[str, Any]:
    """``(name, arguments)`` of an OpenAI-shaped call or a bare ``{"name", "arguments"}``."""
    function = call.get("function", call)
    return str(function.get("name", "")), function.get("arguments")


def call_key(pair: tuple[str, Any]) -> str:
    """A text that two calls share exactly when their names are equal and their arguments are equal JSON values."""
    name, arguments = pair
    return json.dumps([name, canonical_json(arguments)], sort_keys=True, ensure_ascii=False)


def canonical_json(value: Any) -> Any:
    """``value`` with every whole float made an int (JSON numbers compare by value), at any depth."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): canonical_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical_json(item) for item in value]
    return value


def declared_parameters(tools: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """``{tool name: its parameters JSON Schema}`` of the declared tools."""
    declared: dict[str, Any] = {}
    for tool in tools or ():
        function = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            declared[function["name"]] = function.get("parameters") or {}
    return declared


def call_problems(name: str, arguments: Any, declared: Mapping[str, Any]) -> list[str]:
    """Why a generated call is not valid: an undeclared tool, arguments that are not an object, or violations of the
    declared JSON Schema (``validation.schema_errors``); empty for a valid call."""
    if name not in declared:
        return ["calls a tool that is not declared"]
    if not isinstance(arguments, Mapping):
        return [f"arguments are not a JSON object ({type(arguments).__name__})"]
    return schema_errors(dict(arguments), declared[name], "arguments")
