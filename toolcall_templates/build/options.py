"""Format options of a source from the command line (``--option CONFIG.KEY=VALUE``), merged like a recipe's
``options:`` mapping.

``KEY`` may be dotted to reach nested options (``glaive.tags.role_tag=from`` sets ``{"tags": {"role_tag": "from"}}``
for config ``glaive``); ``VALUE`` is JSON when it parses as JSON (``true``, ``3``, ``{"a": 1}``), else the text.
"""

from __future__ import annotations

import json
from typing import Any


def parse_option(text: str, configs: list[str]) -> tuple[str, list[str], Any]:
    """``(config, key path, value)`` of one ``CONFIG.KEY=VALUE``; CONFIG is the longest known config name that
    prefixes the text (config names may hold dots). ValueError names the problem."""
    target, sep, raw = text.partition("=")
    if not sep:
        raise ValueError(f"--option expects CONFIG.KEY=VALUE, got {text!r}")
    config = max((c for c in configs if target.startswith(f"{c}.")), key=len, default=None)
    if config is None:
        raise ValueError(f"--option {text!r} names no source config; configs: {', '.join(configs) or 'none'}")
    keys = target[len(config) + 1:].split(".")
    if not all(keys):
        raise ValueError(f"--option expects CONFIG.KEY=VALUE with a non-empty KEY, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return config, keys, value


def with_option(options: dict[str, Any], keys: list[str], value: Any) -> dict[str, Any]:
    """A copy of ``options`` with ``value`` set at the nested ``keys`` (intermediate mappings created)."""
    return merge_options(options, _nested(keys, value))


def merge_options(base: dict[str, Any] | None, override: dict[str, Any] | None) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings are merged key by key, anything else replaced."""
    merged = dict(base or {})
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_options(merged[key], value)
        else:
            merged[key] = value
    return merged


def _nested(keys: list[str], value: Any) -> dict[str, Any]:
    for key in reversed(keys):
        value = {key: value}
    return value
