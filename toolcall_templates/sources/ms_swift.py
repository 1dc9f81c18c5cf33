"""ms-swift agent datasets: the current ``tool_call`` / ``tool_response`` format and the legacy ReAct rows.

Current format (docs ``Agent-support.md``): ``{"tools": "<JSON string>", "messages": [...]}`` with roles
``system``, ``user``, ``assistant``, ``tool_call`` (content = JSON ``{"name", "arguments"}``) and
``tool_response`` / ``tool`` (content = the result text). Consecutive ``tool_call`` messages are parallel calls and
join an ``assistant`` message directly before them (its text, and ``<think>`` reasoning, stay the turn's content).
Multimodal columns (``images``, ``videos``, ``audios``) are kept in ``meta``; ``<image>`` placeholders stay in text.

Legacy custom agent format: ``{"tools": ..., "conversations"|"messages": [...]}`` with roles user / assistant /
tool where assistant text is ReAct (``Action:`` / ``Action Input:`` / ``Observation:``): parsed by the ``react``
normalizer; ``tools`` may be OpenAI, ToolBench or Qwen plugin (``name_for_model``) definitions. Detected by a
``tools`` value plus ReAct calls in assistant text.
"""

from __future__ import annotations


from ..conversation import ConversationBuilder, split_reasoning, strip_markers
from ..errors import InvalidRecord
from ..schema import Row
from ._call_objects import call_objects
from ._instructions import build_clean_row
from ._prompt_tools import declared_tools
from ._react import has_call
from ._turns import ROLE_ALIASES, raw_turns, read_turns, record_meta, source_roles, texts_of
from .react import react_row

FORMAT = "ms_swift"
OPTIONS: tuple[str, ...] = ("license", "language", "react_thoughts", "keep_format_instructions")

_AGENT_ROLES = {"tool_call", "tool_response"}
_LEGACY_ROLES = {"system", "user", "assistant", "tool"}
_MEDIA_KEYS = ("images", "videos", "audios")


def detect(record: dict) -> bool:
    found = raw_turns(record)
    if not found or not found[1]:
        return False
    roles = source_roles(record)
    if _AGENT_ROLES & set(roles):
        return True
    if "tools" not in record or len(roles) != len(found[1]):
        return False
    if not {ROLE_ALIASES.get(r, r) for r in roles} <= _LEGACY_ROLES:
        return False
    if any(isinstance(t, dict) and ("tool_calls" in t or "function_call" in t) for t in found[1]):
        return False
    return any(has_call(text) for text in texts_of(record, {"assistant"}))


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    meta = {key: record[key] for key in _MEDIA_KEYS if record.get(key)}
    if _AGENT_ROLES & set(source_roles(record)):
        return _agent_row(record, source, strict, options, meta)
    return react_row(record, source=source, strict=strict, options=options, meta={**meta, "variant": "legacy_react"})


def _agent_row(record: dict, source: str, strict: bool, options: dict, meta: dict) -> Row:
    builder = ConversationBuilder(declared_tools(record.get("tools"), "tools"))
    row_meta = {**record_meta(record, options), **meta, "variant": "tool_call"}
    if builder.tools:
        row_meta["tools_from"] = "record"
    for turn in read_turns(record):
        if turn.role == "system":
            builder.system(turn.text)
        elif turn.role == "user":
            builder.user(turn.text)
        elif turn.role == "assistant":
            reasoning, text = split_reasoning(strip_markers(turn.text))
            builder.assistant(text, reasoning)
        elif turn.role == "tool_call":
            for call in call_objects(turn.raw.get("content", turn.raw.get("value")), f"{turn.where} tool_call content"):
                builder.call(call.name, call.arguments)
        elif turn.role == "tool":
            builder.result(turn.text, turn.raw.get("name") if isinstance(turn.raw.get("name"), str) else None)
        else:
            raise InvalidRecord(f"{turn.where} has unsupported role {turn.raw.get('role', turn.raw.get('from'))!r}")
    return build_clean_row(builder, source, row_meta, strict, options)
