"""Parse Python call syntax such as ``[get_weather(city="Paris"), math.factorial(5)]`` with ``ast`` (never ``eval``).

Used by formats that write tool calls as Python code (ToolACE assistant turns, BFCL multi-turn ground truth). Only
literal argument values are accepted (numbers, strings, lists, dicts, tuples, sets, ``True/False/None`` and their JSON
spellings ``true/false/null``); tuples and sets become lists so that the result is JSON.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRecord

_JSON_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


@dataclass
class PyCall:
    """One parsed call: dotted function name, positional values, keyword values (in source order)."""

    name: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)

    def arguments(self, parameter_names: list[str] | None = None) -> dict[str, Any]:
        """Keyword arguments, with positional values named after ``parameter_names`` (the function's order)."""
        if not self.args:
            return dict(self.kwargs)
        names = parameter_names or []
        if len(self.args) > len(names):
            raise InvalidRecord(
                f"call {self.name!r} passes {len(self.args)} positional argument(s) but only {len(names)} parameter "
                "name(s) are known to name them"
            )
        named = dict(zip(names, self.args))
        clash = sorted(set(named) & set(self.kwargs))
        if clash:
            raise InvalidRecord(f"call {self.name!r} gives argument(s) {clash} both by position and by keyword")
        return {**named, **self.kwargs}


def parse_calls(text: str, *, lenient_names: bool = False) -> list[PyCall]:
    """Calls in ``[f(a=1), g(b=2)]``, ``(f(), g())`` or a bare ``f(a=1)``; raises InvalidRecord when it is not that.

    When the text is not valid Python as a whole, each call is read on its own: argument names that are Python
    keywords (``from="EUR"``) are accepted then. ``lenient_names`` also accepts function names that are not
    identifiers (``[Get Weather(city="Paris")]``): the name is the text before the parenthesis.
    """
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return _parse_items(source, exc, lenient_names)
    body = tree.body
    nodes = body.elts if isinstance(body, (ast.List, ast.Tuple)) else [body]
    calls = []
    for index, node in enumerate(nodes):
        if not isinstance(node, ast.Call):
            raise InvalidRecord(f"item #{index} is a {type(node).__name__}, not a function call: {source[:120]!r}")
        calls.append(_call(node))
    return calls


def looks_like_calls(text: str, *, lenient_names: bool = False) -> bool:
    """Cheap pre-check (no parsing of the arguments): ``[name(...`` (a call list, possibly malformed) or ``name(...)``."""
    source = text.strip()
    bracketed = source.startswith("[")
    if bracketed:
        source = source[1:].strip()
    elif not source.endswith(")"):
        return False
    if "(" not in source:
        return False
    head = source.split("(", 1)[0].strip()
    if lenient_names:
        return bool(head) and not any(ch in head for ch in "\"'[]{}\n")
    return bool(head) and all(part.isidentifier() for part in head.split("."))


def _parse_items(source: str, error: BaseException, lenient_names: bool) -> list[PyCall]:
    """Item-by-item reading of a call list that is not valid Python as a whole."""
    failure = InvalidRecord(f"not Python call syntax ({_reason(error)}): {source[:120]!r}")
    inner = source[1:-1] if source.startswith("[") and source.endswith("]") else source
    calls = []
    for item in _split_top_level(inner, ","):
        open_at = item.find("(")
        name = item[:open_at].strip() if open_at > 0 else ""
        valid_name = bool(name) and (not any(ch in name for ch in "\"'[]{}()\n") if lenient_names
                                     else all(part.isidentifier() for part in name.split(".")))
        if not valid_name or not item.endswith(")"):
            raise failure
        args, kwargs = _arguments_text(item[open_at + 1:-1], name)
        calls.append(PyCall(name, args, kwargs))
    if not calls:
        raise failure
    return calls


def _arguments_text(text: str, name: str) -> tuple[list[Any], dict[str, Any]]:
    """``a=1, from="x", 5`` → positional and keyword values; each value is parsed on its own with ``ast``."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for part in _split_top_level(text, ","):
        key, value = _keyword_split(part)
        where = f"{name}.{key}" if key else f"{name} positional argument #{len(args)}"
        try:
            node = ast.parse(value.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise InvalidRecord(f"argument {where} is not a Python literal ({_reason(exc)})") from None
        parsed = _literal(node, where)
        if key is None:
            if kwargs:
                raise InvalidRecord(f"call {name!r} has a positional argument after keyword arguments")
            args.append(parsed)
        elif key in kwargs:
            raise InvalidRecord(f"call {name!r} repeats argument {key!r}")
        else:
            kwargs[key] = parsed
    return args, kwargs


def _keyword_split(part: str) -> tuple[str | None, str]:
    """``name=value`` → ``(name, value)`` when the text before the first top-level ``=`` is a plain name."""
    pieces = _split_top_level(part, "=", keep_empty=True)
    if len(pieces) >= 2:
        key = pieces[0].strip()
        rest = part[part.index("=") + 1:]
        if key and not rest.startswith("=") and all(ch.isalnum() or ch in "_-" for ch in key):
            return key, rest
    return None, part


def _split_top_level(text: str, separator: str, keep_empty: bool = False) -> list[str]:
    """Split on ``separator`` outside brackets and string literals."""
    items, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == separator and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
        i += 1
    items.append(text[start:].strip())
    return items if keep_empty else [item for item in items if item]


def _call(node: ast.Call) -> PyCall:
    name = _dotted_name(node.func)
    args = []
    for position, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise InvalidRecord(f"call {name!r} unpacks *arguments; only literal arguments are supported")
        args.append(_literal(arg, f"{name} positional argument #{position}"))
    kwargs: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise InvalidRecord(f"call {name!r} unpacks **arguments; only literal arguments are supported")
        if keyword.arg in kwargs:
            raise InvalidRecord(f"call {name!r} repeats argument {keyword.arg!r}")
        kwargs[keyword.arg] = _literal(keyword.value, f"{name}.{keyword.arg}")
    return PyCall(name, args, kwargs)


def _dotted_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted_name(node.value)}.{node.attr}"
    raise InvalidRecord(f"a call target must be a (dotted) name, got {type(node).__name__}")


def _literal(node: ast.expr, where: str) -> Any:
    """The value of a literal expression, JSON-shaped (tuples/sets become lists)."""
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(item, where) for item in node.elts]
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise InvalidRecord(f"argument {where} unpacks a dict (**); only literal values are supported")
        return {_key(_literal(key, where), where): _literal(value, where) for key, value in zip(node.keys, node.values)}
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise InvalidRecord(f"argument {where} is not a literal value: {ast.unparse(node)[:80]!r}") from None
    if isinstance(value, complex):
        raise InvalidRecord(f"argument {where} is a complex number, which JSON cannot hold")
    if isinstance(value, bytes):
        raise InvalidRecord(f"argument {where} is a bytes literal, which JSON cannot hold")
    return value


def _key(key: Any, where: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float, bool)) or key is None:
        return str(key)
    raise InvalidRecord(f"argument {where} has a dict key of type {type(key).__name__}, which JSON cannot hold")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "msg", None) or type(exc).__name__
