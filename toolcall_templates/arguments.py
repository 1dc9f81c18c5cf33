"""Turn tool-call arguments in any encoding seen in public data into a JSON object.

Accepted: a dict; a JSON string of an object; a JSON string of a JSON string (double encoded, any depth); a
single-quoted Python literal dict (``ast.literal_eval``, never ``eval``); Glaive-style ``'{...}'`` quoted JSON.
Every repair is reported so that rows can record it instead of fixing silently.
"""

from __future__ import annotations

import ast
import json
import warnings
from typing import Any

from .errors import InvalidRecord

REPAIR_DOUBLE_DECODED = "double_decoded"
REPAIR_LITERAL_EVAL = "literal_eval"
REPAIR_EMPTY = "empty_string"

_MAX_DECODE_DEPTH = 5


def parse_arguments(value: Any) -> tuple[dict[str, Any], str | None]:
    """Return ``(arguments_object, repair)``; ``repair`` is None when the value was already clean.

    Raises:
        InvalidRecord: the value is not an object in any accepted encoding.
    """
    if isinstance(value, dict):
        return value, None
    if value is None:
        return {}, REPAIR_EMPTY
    if not isinstance(value, str):
        raise InvalidRecord(f"tool-call arguments must be an object or a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return {}, REPAIR_EMPTY
    repair: str | None = None
    current: Any = text
    for depth in range(_MAX_DECODE_DEPTH):
        try:
            current = json.loads(current)
        except json.JSONDecodeError:
            current = _literal(current)
            repair = REPAIR_LITERAL_EVAL
        if isinstance(current, dict):
            return current, repair
        if not isinstance(current, str):
            raise InvalidRecord(f"tool-call arguments decode to {type(current).__name__}, not an object: {text[:80]!r}")
        repair = REPAIR_DOUBLE_DECODED
        current = current.strip()
    raise InvalidRecord(f"tool-call arguments are encoded more than {_MAX_DECODE_DEPTH} times: {text[:80]!r}")


def literal_eval_quiet(text: str) -> Any:
    """``ast.literal_eval`` without the SyntaxWarning / DeprecationWarning that backslashes in data trigger."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.literal_eval(text)


def _literal(text: str) -> Any:
    """Parse a Python literal (single quotes, True/None); also accept JSON's true/false/null inside it."""
    try:
        return literal_eval_quiet(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        pass
    try:
        return literal_eval_quiet(_json_keywords_to_python(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise InvalidRecord(f"tool-call arguments are neither JSON nor a Python literal: {text[:120]!r}") from None


def _json_keywords_to_python(text: str) -> str:
    """Replace bare JSON keywords outside string literals with their Python spelling."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    words = {"true": "True", "false": "False", "null": "None"}
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            out.append(ch)
            i += 1
            continue
        for word, repl in words.items():
            if text.startswith(word, i) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
                end = i + len(word)
                if end >= len(text) or not (text[end].isalnum() or text[end] == "_"):
                    out.append(repl)
                    i = end
                    break
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_json_value(value: Any, what: str) -> Any:
    """Decode a JSON string (or Python literal) into a value; non-strings pass through. Raises InvalidRecord."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        try:
            return _literal(value)
        except InvalidRecord:
            raise InvalidRecord(f"{what} is not valid JSON: {value[:120]!r}") from None


def dumps(value: Any) -> str:
    """The project's one JSON spelling for text: non-ASCII kept, default separators (as models emit it)."""
    return json.dumps(value, ensure_ascii=False)
