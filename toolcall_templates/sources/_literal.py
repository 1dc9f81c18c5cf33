"""Find and decode JSON / Python-literal values embedded in free text (system prompts, tag payloads)."""

from __future__ import annotations

import json
from typing import Any

from ..arguments import parse_json_value
from ..errors import InvalidRecord

_CLOSERS = {"{": "}", "[": "]"}


def balanced_end(text: str, start: int, stop: int | None = None) -> int | None:
    """Index just past the bracketed value (``{...}`` or ``[...]``) opening at ``start``; quotes are respected.

    Returns None when the value is not closed (before ``stop``, when given).
    """
    stack: list[str] = []
    quote: str | None = None
    i = start
    end = len(text) if stop is None else stop
    while i < end:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return None
            if not stack:
                return i + 1
        i += 1
    return None


def decode_value(text: str, what: str) -> Any:
    """Decode JSON, falling back to a Python literal (``ast.literal_eval``); InvalidRecord names ``what``."""
    return parse_json_value(text.strip(), what)


def try_decode(text: str) -> Any | None:
    """Like ``decode_value`` but returns None instead of raising."""
    try:
        return decode_value(text, "value")
    except InvalidRecord:
        return None


def decode_lines(text: str) -> list[Any] | None:
    """Decode text made of several JSON / literal values one after another (e.g. one object per line)."""
    values: list[Any] = []
    i = 0
    while i < len(text):
        if text[i].isspace() or text[i] == ",":
            i += 1
            continue
        if text[i] not in _CLOSERS:
            return None
        end = balanced_end(text, i)
        if end is None:
            return None
        value = try_decode(text[i:end])
        if value is None:
            return None
        values.append(value)
        i = end
    return values or None


def strict_json(text: str) -> Any | None:
    """Plain ``json.loads`` or None (used where a Python-literal fallback would be too permissive)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
