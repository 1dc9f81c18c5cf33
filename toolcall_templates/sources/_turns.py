"""Read the turns of ShareGPT-like (``from``/``value``) and chat-like (``role``/``content``) records uniformly.

Shared by the text-encoded tool formats (Hermes, ReAct, ms-swift, Qwen): each turn becomes a ``Turn`` with a
canonical role name, its text, and the raw dict for format-specific fields (``function_call``, ``name``, ...).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..conversation import as_text
from ..errors import InvalidRecord

TURN_KEYS: tuple[str, ...] = ("conversations", "messages")

ROLE_ALIASES: dict[str, str] = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "bot": "assistant",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
    "tool_response": "tool",
}


class Turn(NamedTuple):
    """One turn: canonical role (system/user/assistant/tool or an unmapped source role), text, raw dict."""

    role: str
    text: str
    raw: dict
    where: str


def raw_turns(record: dict) -> tuple[str, list[Any]] | None:
    """``(key, list)`` of the first turn list in the record (``conversations`` or ``messages``), else None."""
    for key in TURN_KEYS:
        value = record.get(key)
        if isinstance(value, list):
            return key, value
    return None


def turn_role(turn: Any) -> str | None:
    """The raw role name of a turn dict (``from`` or ``role``), or None."""
    if not isinstance(turn, dict):
        return None
    role = turn.get("from", turn.get("role"))
    return role if isinstance(role, str) else None


def turn_text(turn: dict) -> Any:
    """The raw content of a turn dict (``value`` or ``content``)."""
    return turn["value"] if "value" in turn else turn.get("content")


def source_roles(record: dict) -> list[str]:
    """Raw role names of all turns (empty when the record has no turn list)."""
    found = raw_turns(record)
    if not found:
        return []
    return [role for role in (turn_role(t) for t in found[1]) if role is not None]


def texts_of(record: dict, roles: set[str]) -> list[str]:
    """Texts of the turns whose canonical role is in ``roles`` (strings only; cheap, for detectors)."""
    found = raw_turns(record)
    if not found:
        return []
    out = []
    for turn in found[1]:
        role = turn_role(turn)
        if role is None or ROLE_ALIASES.get(role, role) not in roles:
            continue
        text = turn_text(turn)
        if isinstance(text, str):
            out.append(text)
    return out


def read_turns(record: dict, *, text_of=None) -> list[Turn]:
    """All turns with canonical roles; raises InvalidRecord when there is no turn list or a turn is malformed.

    ``text_of(raw, where)`` may override how content becomes text (default: ``as_text``).
    """
    found = raw_turns(record)
    if not found:
        raise InvalidRecord("record has no 'conversations' or 'messages' list")
    key, turns = found
    if not turns:
        raise InvalidRecord(f"'{key}' is empty")
    out: list[Turn] = []
    for index, turn in enumerate(turns):
        where = f"{key}[{index}]"
        if not isinstance(turn, dict):
            raise InvalidRecord(f"{where} is not an object")
        role = turn_role(turn)
        if role is None:
            raise InvalidRecord(f"{where} has no 'from'/'role' string")
        content = text_of(turn, where) if text_of else as_text(turn_text(turn), f"{where} content")
        out.append(Turn(ROLE_ALIASES.get(role, role), content, turn, where))
    return out


def record_meta(record: dict, options: dict, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Provenance facts for ``meta``: upstream id, listed record fields, and license/language given as options."""
    meta: dict[str, Any] = {}
    upstream_id = record.get("id")
    if isinstance(upstream_id, (str, int)) and not isinstance(upstream_id, bool):
        meta["upstream_id"] = str(upstream_id)
    for key in keys:
        value = record.get(key)
        if value not in (None, "", [], {}):
            meta[key] = value
    for key in ("license", "language"):
        if options.get(key):
            meta[key] = options[key]
    return meta
