"""LLaMA-Factory "sharegpt" records with tools (also APIGen-MT-5k, Glaive re-exports such as
``Locutusque/function-calling-chatml``).

Record: ``{"conversations": [{"from", "value"}], "tools": "<JSON string>", "system"?: str}``. Roles ``human``,
``gpt``, ``function_call`` (value: JSON ``{"name", "arguments"}``, or a JSON list of them = parallel calls),
``observation`` (the result; parallel results packed as a JSON list or with LLaMA-Factory's joiner) and a leading
``system`` turn. Column and role names are configurable as in a LLaMA-Factory ``dataset_info.json`` entry:
pass ``options={"columns": {...}, "tags": {...}}`` (see ``dataset_info_options``); keys left out keep the
documented defaults. The spellings ``function-call`` / ``function-response`` are accepted as aliases.

``tools`` may be a JSON string (bare or OpenAI-wrapped schemas, ``"[]"``), a list, or absent; then Glaive-style
schemas embedded in the system text (or a ``function_description`` column) are used. Machine-translated rows
sometimes render a call as text in the ``gpt`` turn (``"...\\nAI 计算折扣: {...}"``) followed by an observation; the
call is recovered from that text and the row carries a warning saying so.
"""

from __future__ import annotations

import json
from typing import Any

from ..conversation import TRANSPORT_MARKERS, ConversationBuilder, as_text, split_reasoning, strip_markers
from ..errors import InvalidRecord
from ..schema import Row, Tool
from . import UnknownOption
from ._glaive_text import parse_call_payload, split_system_schemas
from ._instructions import build_clean_row
from ._located import add_call, add_result
from ._recover import recover_call_from_text
from ._results import split_results
from ._tool_defs import read_tools

FORMAT = "sharegpt"
OPTIONS: tuple[str, ...] = ("columns", "tags", "keep_format_instructions")

DEFAULT_COLUMNS: dict[str, str] = {"messages": "conversations", "system": "system", "tools": "tools"}
DEFAULT_TAGS: dict[str, str] = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
_ALIASES = {"function-call": "function_tag", "function-response": "observation_tag",
            "function_response": "observation_tag"}
_TOOL_ROLES = {"function_call", "observation", *_ALIASES}
_DEFAULT_ROLES = {"human", "gpt", "system", *_TOOL_ROLES}
_UNSUPPORTED_COLUMNS = ("images", "videos", "audios", "chosen", "rejected", "kto_tag")


def dataset_info_options(dataset_info: dict, name: str) -> dict[str, Any]:
    """The ``options`` (``columns`` + ``tags``) for entry ``name`` of a LLaMA-Factory ``dataset_info.json``.

    Raises ValueError when the entry is missing, is not a ``sharegpt`` entry, or needs columns that a canonical
    text row cannot hold (media, preference pairs).
    """
    if not isinstance(dataset_info, dict) or not isinstance(dataset_info.get(name), dict):
        known = ", ".join(sorted(dataset_info)[:20]) if isinstance(dataset_info, dict) else ""
        raise ValueError(f"dataset {name!r} is not defined in dataset_info (defined: {known})")
    entry = dataset_info[name]
    formatting = entry.get("formatting", "alpaca")
    if formatting != "sharegpt":
        raise ValueError(f"dataset_info entry {name!r} uses formatting {formatting!r}, not 'sharegpt'")
    columns = entry.get("columns") or {}
    tags = entry.get("tags") or {}
    if not isinstance(columns, dict) or not isinstance(tags, dict):
        raise ValueError(f"dataset_info entry {name!r}: 'columns' and 'tags' must be objects")
    unsupported = [key for key in _UNSUPPORTED_COLUMNS if columns.get(key)]
    if entry.get("ranking") or unsupported:
        raise ValueError(
            f"dataset_info entry {name!r} needs columns a text tool-call row cannot hold: "
            f"{', '.join(unsupported) or 'ranking'}"
        )
    return {
        "columns": {k: v for k, v in columns.items() if k in DEFAULT_COLUMNS and v},
        "tags": {k: v for k, v in tags.items() if k in DEFAULT_TAGS and v},
    }


def detect(record: dict) -> bool:
    """A list of ``{from, value}`` turns with LLaMA-Factory role names, plus a tool signal (a ``tools`` column,
    a ``function_description`` column, or a function_call/observation turn)."""
    turns = _default_turns(record)
    if turns is None:
        return False
    roles = set()
    for turn in turns:
        if not isinstance(turn, dict) or not isinstance(turn.get("from"), str) or "value" not in turn:
            return False
        roles.add(turn["from"])
        if turn["from"] == "gpt" and isinstance(turn["value"], str) and "<tool_call>" in turn["value"]:
            return False  # Hermes tags: not this format
    if not roles <= _DEFAULT_ROLES:
        return False
    return bool(roles & _TOOL_ROLES) or "tools" in record or "function_description" in record


def _default_turns(record: dict) -> list | None:
    for key in ("conversations", "messages"):
        turns = record.get(key)
        if isinstance(turns, list) and turns:
            return turns
    return None


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    columns, tags = _settings(options)
    turns = _turns(record, columns, options)
    role_of = _role_map(tags)
    role_key, content_key = tags["role_tag"], tags["content_tag"]

    system = record.get(columns["system"])
    notes: list[str] = []
    offset = 0
    if isinstance(turns[0], dict) and turns[0].get(role_key) == tags["system_tag"]:
        if system and system != turns[0].get(content_key):
            notes.append(f"{columns['system']!r} column ignored: the conversation opens with a system turn")
        system, turns, offset = turns[0].get(content_key), turns[1:], 1
    system_text = as_text(system, "system")
    tools, tool_notes = read_tools(record.get(columns["tools"]), columns["tools"])
    notes += tool_notes
    if not tools:
        system_text, tools = _embedded_tools(system_text, record)

    builder = ConversationBuilder(tools)
    builder.notes += notes
    if system_text.strip():
        builder.system(system_text)
    recovered: list[str] = []
    pending = 0
    previous = None
    for index, turn in enumerate(turns, start=offset):
        where = f"{columns['messages']}[{index}]"
        if not isinstance(turn, dict) or not isinstance(turn.get(role_key), str):
            raise InvalidRecord(f"{where} is not a turn object with a string {role_key!r}")
        role = role_of.get(turn[role_key])
        value = turn.get(content_key)
        if role == "user":
            builder.user(value)
        elif role == "assistant":
            reasoning, text = split_reasoning(_strip_transport(as_text(value, where)))
            builder.assistant(text, reasoning)
        elif role == "function":
            calls = _parse_calls(value, where)
            for name, arguments, call_id in calls:
                add_call(builder, where, name, arguments, call_id)
            pending = len(calls) + (pending if previous == "function" else 0)
        elif role == "observation":
            if pending == 0:
                recovered.append(recover_call_from_text(builder, where))
                pending = 1
            for result in split_results(as_text(value, where), pending):
                add_result(builder, where, result.content, result.name, result.call_id)
                pending = max(pending - 1, 0)
        elif role == "system":
            builder.system(value)
        else:
            raise InvalidRecord(f"{where} has unknown role {turn[role_key]!r} (expected one of {sorted(role_of)})")
        if role not in ("function", "observation"):
            pending = 0
        previous = role
    meta = {"recovered_calls": len(recovered)} if recovered else {}
    row = build_clean_row(builder, source, meta, strict, options)
    if recovered:
        if strict:
            raise InvalidRecord("strict mode: " + "; ".join(recovered))
        row["warnings"] = [*recovered, *row["warnings"]]
    return row


def _settings(options: dict) -> tuple[dict[str, str], dict[str, str]]:
    columns = {**DEFAULT_COLUMNS, **_string_map(options.get("columns"), "columns", DEFAULT_COLUMNS)}
    tags = {**DEFAULT_TAGS, **_string_map(options.get("tags"), "tags", DEFAULT_TAGS)}
    return columns, tags


def _string_map(value: Any, what: str, defaults: dict[str, str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values() if v is not None):
        raise UnknownOption(f"sharegpt option {what!r} must map names to strings, got {value!r}")
    unknown = [key for key in value if key not in defaults]
    if unknown:
        raise UnknownOption(f"sharegpt option {what!r} has unknown key(s) {', '.join(map(repr, unknown))}; "
                            f"known: {', '.join(defaults)}")
    return {k: v for k, v in value.items() if v}


def _role_map(tags: dict[str, str]) -> dict[str, str]:
    roles = {alias: tag.removesuffix("_tag") for alias, tag in _ALIASES.items()}
    roles.update({tags[f"{role}_tag"]: role for role in ("user", "assistant", "observation", "function", "system")})
    return roles


def _turns(record: dict, columns: dict[str, str], options: dict) -> list:
    turns = record.get(columns["messages"])
    if turns is None and not (options.get("columns") or {}).get("messages"):
        turns = record.get("messages")
    if not isinstance(turns, list) or not turns:
        raise InvalidRecord(f"record has no non-empty {columns['messages']!r} list of turns")
    return turns


def _embedded_tools(system_text: str, record: dict) -> tuple[str, list[Tool]]:
    """Glaive re-exports keep the schemas in the system text or in a ``function_description`` column."""
    prompt, schemas = split_system_schemas(system_text)
    if schemas:
        tools, _ = read_tools(schemas, "system text schemas")
        return prompt, tools
    description = record.get("function_description")
    if isinstance(description, str) and description.strip():
        tools, _ = read_tools(description, "function_description")
        return system_text, tools
    return system_text, []


def _strip_transport(text: str) -> str:
    return strip_markers(text) if any(marker in text for marker in TRANSPORT_MARKERS) else text


def _parse_calls(value: Any, where: str) -> list[tuple[Any, Any, str | None]]:
    """The calls of a function_call turn: ``(name, raw_arguments, id)`` for one object or a list of them."""
    parsed = value
    for _ in range(3):
        if not isinstance(parsed, str):
            break
        text = _strip_transport(parsed).strip()
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            name, arguments, rest = parse_call_payload(text)
            if rest.strip():
                raise InvalidRecord(f"{where}: unexpected text after the call payload: {rest.strip()[:80]!r}") from None
            return [(name, arguments, None)]
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items:
        raise InvalidRecord(f"{where}: function_call value is an empty list")
    calls = []
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRecord(f"{where}: call #{k} is not an object: {str(item)[:80]!r}")
        function = item.get("function") if isinstance(item.get("function"), dict) else item
        arguments = next((function[key] for key in ("arguments", "parameters") if key in function), None)
        call_id = item.get("id") if isinstance(item.get("id"), str) else None
        calls.append((function.get("name"), arguments, call_id))
    return calls

