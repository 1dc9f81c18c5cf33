"""The column mapping of the ``mapped`` format: which fields of a record hold what, read from the format's options.

Native options (every one optional; the defaults read OpenAI-style records):

* ``messages`` (default ``"messages"``): the column holding the list of turns; ``system`` (no default): a column
  holding a system prompt; ``tools`` (default ``"tools"``): the column holding the tool list (JSON text or a list);
* ``role`` / ``content`` (defaults ``"role"`` / ``"content"``): the keys of a turn holding its role and its text;
  ``tool_calls`` / ``tool_call_id`` / ``name`` / ``reasoning`` (defaults ``"tool_calls"`` / ``"tool_call_id"`` /
  ``"name"`` / ``"reasoning_content"``): the keys holding an assistant turn's calls, a result's call id and function
  name, and an assistant turn's reasoning (``tool_calls`` set to the content key: an assistant text that is JSON
  call objects is the call);
* ``roles``: role values of the data mapped to ``system``, ``user``, ``assistant``, ``tool`` (a result) or
  ``tool_call`` (an assistant turn whose text is the call(s) as JSON), e.g. ``{"human": "user", "gpt": "assistant",
  "function_call": "tool_call", "observation": "tool"}``; axolotl's inverse shape ``{"assistant": ["gpt", "bot"]}`` is
  accepted too. The canonical names map to themselves unless the option says otherwise;
* single-turn records (xLAM style) instead: ``query`` (the user's text) with ``answers`` (the calls: JSON text or a
  list of ``{"name", "arguments"}``) and/or ``response`` (a text answer).

The same settings in the spelling of the tools people come from are accepted: axolotl's ``field_messages``,
``field_system``, ``field_tools``, ``field_thinking``, ``message_property_mappings`` (``role``, ``content``,
``tool_calls``, ``tool_call_id``, ``name``, ``reasoning_content``) and ``roles``; LLaMA-Factory's ``columns``
(``messages``, ``system``, ``tools``) and ``tags`` (``role_tag``, ``content_tag``, ``user_tag``, ``assistant_tag``,
``observation_tag``, ``function_tag``, ``system_tag``). Anything else, or two spellings that disagree, raises
``UnknownOption``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import UnknownOption

CANONICAL_ROLES = ("system", "user", "assistant", "tool", "tool_call")
_COLUMN_KEYS = ("messages", "system", "tools", "query", "answers", "response")
_TURN_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name", "reasoning")
_AXOLOTL_FIELDS = {"field_messages": "messages", "field_system": "system", "field_tools": "tools",
                   "field_thinking": "reasoning"}
_AXOLOTL_PROPERTIES = {"role": "role", "content": "content", "tool_calls": "tool_calls",
                       "tool_call_id": "tool_call_id", "name": "name", "reasoning_content": "reasoning"}
_LF_COLUMNS = {"messages": "messages", "system": "system", "tools": "tools"}
_LF_TAG_KEYS = {"role_tag": "role", "content_tag": "content"}
_LF_TAG_ROLES = {"user_tag": "user", "assistant_tag": "assistant", "observation_tag": "tool",
                 "function_tag": "tool_call", "system_tag": "system"}
MAPPING_OPTIONS: tuple[str, ...] = (*_COLUMN_KEYS, *_TURN_KEYS, "roles", *_AXOLOTL_FIELDS, "message_property_mappings",
                                    "columns", "tags")
"""The option names the mapping reads (``mapped.OPTIONS`` adds the options every format takes)."""


@dataclass(frozen=True)
class Mapping:
    """Where a record keeps each part of a conversation (see module doc)."""

    messages: str = "messages"
    system: str | None = None
    tools: str = "tools"
    query: str | None = None
    answers: str | None = None
    response: str | None = None
    role: str = "role"
    content: str = "content"
    tool_calls: str = "tool_calls"
    tool_call_id: str = "tool_call_id"
    name: str = "name"
    reasoning: str = "reasoning_content"
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def single_turn(self) -> bool:
        return self.query is not None

    def canonical_role(self, value: Any) -> str | None:
        """The canonical role of a turn's role value (None when the mapping does not map it)."""
        if not isinstance(value, str):
            return None
        return self.roles.get(value, value if value in CANONICAL_ROLES else None)


def parse_mapping(options: dict[str, Any]) -> Mapping:
    """The ``Mapping`` that ``options`` describe; ``UnknownOption`` names any key or value that cannot be used."""
    settings: dict[str, str] = {}
    roles: dict[str, str] = {}

    def put(key: str, value: Any, spelled: str) -> None:
        if not isinstance(value, str) or not value:
            raise UnknownOption(f"format 'mapped': option {spelled} must be a non-empty field name, got {value!r}")
        if settings.get(key, value) != value:
            raise UnknownOption(f"format 'mapped': option {spelled} = {value!r} disagrees with {settings[key]!r} "
                                f"given for {key!r} in another spelling")
        settings[key] = value

    for key in (*_COLUMN_KEYS, *_TURN_KEYS):
        if key in options:
            put(key, options[key], repr(key))
    for alias, key in _AXOLOTL_FIELDS.items():
        if alias in options:
            put(key, options[alias], repr(alias))
    for prop, value in _section(options, "message_property_mappings", _AXOLOTL_PROPERTIES).items():
        put(_AXOLOTL_PROPERTIES[prop], value, f"message_property_mappings.{prop}")
    for column, value in _section(options, "columns", _LF_COLUMNS).items():
        put(_LF_COLUMNS[column], value, f"columns.{column}")
    tags = _section(options, "tags", {**_LF_TAG_KEYS, **_LF_TAG_ROLES})
    for tag, value in tags.items():
        if tag in _LF_TAG_KEYS:
            put(_LF_TAG_KEYS[tag], value, f"tags.{tag}")
        else:
            _add_role(roles, value, _LF_TAG_ROLES[tag], f"tags.{tag}")
    for source_value, canonical in _role_pairs(options.get("roles")):
        _add_role(roles, source_value, canonical, "roles")
    if ("answers" in settings or "response" in settings) and "query" not in settings:
        raise UnknownOption("format 'mapped': options 'answers' / 'response' describe single-turn records and need "
                            "'query' (the column of the user's text)")
    return Mapping(**settings, roles=roles)


def _section(options: dict[str, Any], name: str, known: dict[str, str]) -> dict[str, Any]:
    value = options.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UnknownOption(f"format 'mapped': option {name!r} must be a mapping, got {value!r}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise UnknownOption(f"format 'mapped': option {name!r} has unknown keys {unknown}; it takes {sorted(known)}")
    return {key: item for key, item in value.items() if item is not None}


def _role_pairs(value: Any) -> list[tuple[Any, Any]]:
    """``(source value, canonical role)`` pairs of a ``roles`` option in either shape."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise UnknownOption(f"format 'mapped': option 'roles' must map role values to roles, got {value!r}")
    pairs = []
    for key, item in value.items():
        if isinstance(item, list):  # axolotl: {canonical: [source values]}
            pairs += [(source, key) for source in item]
        else:
            pairs.append((key, item))
    return pairs


def _add_role(roles: dict[str, str], source_value: Any, canonical: Any, spelled: str) -> None:
    if canonical not in CANONICAL_ROLES:
        raise UnknownOption(f"format 'mapped': option {spelled} maps {source_value!r} to {canonical!r}; roles are "
                            f"{', '.join(CANONICAL_ROLES)}")
    if not isinstance(source_value, str) or not source_value:
        raise UnknownOption(f"format 'mapped': option {spelled}: a role value must be a non-empty string, got "
                            f"{source_value!r}")
    if roles.get(source_value, canonical) != canonical:
        raise UnknownOption(f"format 'mapped': role value {source_value!r} is mapped to both {roles[source_value]!r} "
                            f"and {canonical!r}")
    roles[source_value] = canonical
