"""Canonical rows read straight from Arrow, with their JSON values decoded exactly.

The stored JSON texts are decoded with ``json.loads``, which gives back exactly the values that were written (as
``datasets`` does once :mod:`toolcall_templates.exact_json` is installed; on its own it reads ``0.3`` as
``0.30000000000000004``), and skips the per-value formatting of ``datasets`` (several times faster).

Messages stored as Arrow structs (not ``Json()``) come back with every key of the struct, ``None`` where a message
lacks it; those keys are dropped (``drop_none_keys``), so templates that test for a key (``'tool_calls' in
message``) see the message as it was written.
"""

from __future__ import annotations

import json
from typing import Any, Callable

Decoder = Callable[[Any], Any]


def column_decoder(feature: Any, *, drop_none_keys: bool = False) -> Decoder:
    """A function decoding one value of a column with this ``datasets`` feature (``to_pylist()`` values in)."""
    decoder = _decoder(feature, drop_none_keys)
    return decoder if decoder is not None else _identity


def _decoder(feature: Any, drop_none_keys: bool) -> Decoder | None:
    """None where values need no decoding (plain values), else the function that decodes them."""
    from datasets import Json, LargeList, List

    if isinstance(feature, Json):
        return _json
    if isinstance(feature, (List, LargeList)):
        inner = _decoder(feature.feature, drop_none_keys)
        if inner is None:
            return None
        return lambda values: None if values is None else [inner(v) for v in values]
    if isinstance(feature, dict):
        fields = {key: _decoder(sub, drop_none_keys) for key, sub in feature.items()}
        fields = {key: decoder for key, decoder in fields.items() if decoder is not None}
        if not fields and not drop_none_keys:
            return None
        return lambda value: _struct(value, fields, drop_none_keys)
    return None


_JSON_VALUE_TYPES = frozenset({"null", "bool", "string", "large_string", "float16", "float32", "float64",
                               *(f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64))})


def yields_plain_json(feature: Any) -> bool:
    """Whether every decoded value of a column with this feature is plain JSON (dicts, lists, str, int, float, bool,
    None), so templates may render it without rebuilding it first (``templates.JsonRenderer``)."""
    from datasets import Json, LargeList, List, Value

    if isinstance(feature, Json):
        return True
    if isinstance(feature, Value):
        return feature.dtype in _JSON_VALUE_TYPES
    if isinstance(feature, (List, LargeList)):
        return yields_plain_json(feature.feature)
    if isinstance(feature, dict):
        return all(yields_plain_json(sub) for sub in feature.values())
    return False


def is_json_list(feature: Any) -> bool:
    """Whether the column holds lists of ``Json()`` values (read from Arrow as lists of JSON texts)."""
    from datasets import Json, LargeList, List

    return isinstance(feature, (List, LargeList)) and isinstance(feature.feature, Json)


def _struct(value: Any, fields: dict[str, Decoder], drop_none_keys: bool) -> Any:
    if not isinstance(value, dict):
        return value
    if drop_none_keys:
        value = {key: item for key, item in value.items() if item is not None}
    else:
        value = dict(value)
    for key, decoder in fields.items():
        if key in value:
            value[key] = decoder(value[key])
    return value


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _identity(value: Any) -> Any:
    return value
