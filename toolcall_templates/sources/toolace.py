"""ToolACE (Team-ACE/ToolACE and copies such as ToolACE-maskFunctionName-Hammer).

Shape: ``{"system": str, "conversations": [{"from": "user" | "assistant" | "tool", "value": str}]}``.

* **Tools** live only inside the system text ("Here is a list of functions in JSON format that you can invoke:
  [...]"): the first JSON list of objects with a ``name`` found in it is taken (``"type": "dict"`` schemas and the
  function-level ``"required": null`` are normalized). A row whose system text holds no such list is rejected.
* **System prompt.** It is ToolACE's instruction to answer in Python call syntax plus the tool list, which a chat
  template would contradict and duplicate, so by default it is not a message: it is kept verbatim in
  ``meta["system_prompt"]``. Option ``keep_system=True`` keeps it as the system message instead.
* **Calls** are assistant values in Python call syntax, ``[f(a=1), g(b="x")]`` (several = parallel), parsed with
  ``ast``; names that are not identifiers (``[Get Weather(city="x")]``) are accepted too, positional arguments are
  named by the tool's parameter order. A value that looks like a call list but does not parse is rejected rather
  than kept as text.
* **Results** are ``tool`` values holding a JSON list ``[{"name", "results"}]``: one tool message per item, content =
  the JSON of ``results``, linked to the calls by position then name. Other tool values are kept as one message.
* Assistant text keeps a leading ``<think>`` block as ``reasoning_content``; transport markers are stripped.
"""

from __future__ import annotations

import json
from typing import Any

from ..arguments import dumps
from ..conversation import (
    TRANSPORT_MARKERS,
    ConversationBuilder,
    split_reasoning,
    strip_markers,
)
from ..errors import InvalidRecord
from ..schema import Row
from ..tool_schema import normalize_tools
from ._pycall import PyCall, looks_like_calls, parse_calls
from ._reference import provenance

FORMAT = "toolace"
OPTIONS: tuple[str, ...] = ("license", "language", "keep_system")
_ROLES = {"user", "assistant", "tool"}
_ROLE_ALIASES = {"human": "user", "gpt": "assistant", "function": "tool", "observation": "tool"}


def detect(record: dict) -> bool:
    system, turns = record.get("system"), record.get("conversations")
    if not isinstance(system, str) or not isinstance(turns, list) or not turns or "tools" in record:
        return False
    if not all(isinstance(t, dict) and "from" in t and "value" in t for t in turns):
        return False
    return (all(t["from"] in _ROLES for t in turns if isinstance(t["from"], str))
            and all(isinstance(t["from"], str) for t in turns) and '"name"' in system and "[" in system)


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    system = record.get("system")
    if not isinstance(system, str):
        raise InvalidRecord("ToolACE record has no 'system' text (the tools are declared there)")
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise InvalidRecord("ToolACE record has no 'conversations' list")
    raw_tools = tools_in_text(system)
    if raw_tools is None:
        raise InvalidRecord("ToolACE system text holds no JSON list of functions")
    tools, notes = normalize_tools(raw_tools, "system tools")
    builder = ConversationBuilder(tools)
    builder.notes += notes
    meta: dict[str, Any] = provenance(options)
    if options.get("keep_system", False):
        builder.system(system)
    else:
        meta["system_prompt"] = system
    parameters = {t["function"]["name"]: _parameter_names(t["function"]["parameters"]) for t in tools}
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise InvalidRecord(f"conversations[{index}] is not an object")
        role = turn.get("from")
        role = _ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
        value = turn.get("value")
        if not isinstance(value, str):
            raise InvalidRecord(f"conversations[{index}] value must be a string, got {type(value).__name__}")
        where = f"conversations[{index}]"
        if role == "user":
            builder.user(value)
        elif role == "assistant":
            _assistant(builder, value, parameters, where)
        elif role == "tool":
            _results(builder, value, where)
        else:
            raise InvalidRecord(f"{where} has unsupported role {turn.get('from')!r}")
    return builder.build(source, meta, strict)


def _parameter_names(schema: dict) -> list[str]:
    properties = schema.get("properties")
    return list(properties) if isinstance(properties, dict) else []


def tools_in_text(text: str) -> list[dict] | None:
    """The first JSON list of function objects (each with a ``name``) embedded in ``text``, or None."""
    decoder = json.JSONDecoder()
    position = text.find("[")
    while position != -1:
        try:
            value, _ = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
            return value
        position = text.find("[", position + 1)
    return None


def _assistant(builder: ConversationBuilder, value: str, parameters: dict[str, list[str]], where: str) -> None:
    reasoning, text = split_reasoning(_without_markers(value))
    if looks_like_calls(text, lenient_names=True):
        try:
            calls = parse_calls(text, lenient_names=True)
        except InvalidRecord as exc:
            raise InvalidRecord(f"{where}: assistant call list does not parse: {exc.reason}") from None
        if reasoning:
            builder.assistant("", reasoning)
        for call in calls:
            builder.call(call.name, _arguments(call, parameters, where))
        return
    builder.assistant(text, reasoning)


def _without_markers(text: str) -> str:
    """Trailing transport markers removed; text without markers is kept byte-exact."""
    return strip_markers(text) if any(marker in text for marker in TRANSPORT_MARKERS) else text


def _arguments(call: PyCall, parameters: dict[str, list[str]], where: str) -> dict[str, Any]:
    try:
        return call.arguments(parameters.get(call.name))
    except InvalidRecord as exc:
        raise InvalidRecord(f"{where}: {exc.reason}") from None


def _results(builder: ConversationBuilder, value: str, where: str) -> None:
    try:
        items = json.loads(value)
    except json.JSONDecodeError:
        items = None
    if isinstance(items, dict):
        items = [items]
    if not (isinstance(items, list) and items and all(isinstance(i, dict) for i in items)):
        _result(builder, value, None, where)
        return
    for item in items:
        name = item.get("name") if isinstance(item.get("name"), str) else None
        content = item["results"] if "results" in item else {k: v for k, v in item.items() if k != "name"}
        _result(builder, content if isinstance(content, str) else dumps(content), name, where)


def _result(builder: ConversationBuilder, content: str, name: str | None, where: str) -> None:
    try:
        builder.result(content, name)
    except InvalidRecord as exc:
        raise InvalidRecord(f"{where}: {exc.reason}") from None
