"""NousResearch Hermes function calling (hermes-function-calling-v1 and the same tag convention elsewhere).

Record: ``{"id", "conversations": [{"from": system|human|gpt|tool, "value"}], "category", ...}`` (``messages`` with
``role``/``content`` is accepted too). Tools sit in the system text inside ``<tools>...</tools>`` as a Python repr
or JSON list (or a record-level ``tools`` column); calls are ``<tool_call>`` blocks in assistant text (Python
literal or JSON; several blocks = parallel calls); results are ``<tool_response>`` blocks in ``tool`` turns (or in
user turns, as the Qwen2.5 template writes them), each unwrapped from ``{"name", "content"}``. Text outside the
blocks stays content, a leading ``<think>`` block becomes ``reasoning_content``.

The ``<tools>`` block is removed from the system text (the tools live in ``tools``); pass
``keep_tool_prompt=True`` to keep the system text verbatim. json-mode rows (a ``<schema>`` in the system text, a
bare JSON answer) become tool-free rows with ``meta.json_mode``.
"""

from __future__ import annotations

import re
from typing import Any

from ..conversation import ConversationBuilder, split_reasoning, strip_markers
from ..errors import InvalidRecord
from ..schema import Row
from ._instructions import build_clean_row
from ._literal import try_decode
from ._prompt_tools import declared_tools
from ._tags import extract_tools, parse_call_payload, response_payloads, split_tagged, unwrap_response
from ._turns import Turn, raw_turns, read_turns, record_meta, source_roles, turn_text

FORMAT = "hermes"
OPTIONS: tuple[str, ...] = ("license", "language", "keep_tool_prompt", "keep_format_instructions")

_TAGS = ("<tool_call>", "<tools>", "<tool_response>")
_FOREIGN_ROLES = {"function_call", "observation", "tool_call", "tool_response"}
_SCHEMA_BLOCK = re.compile(r"<schema>(.*?)</schema>", re.DOTALL)
_META_KEYS = ("category", "subcategory", "task", "scenario_category")


def detect(record: dict) -> bool:
    found = raw_turns(record)
    if not found or not found[1]:
        return False
    roles = source_roles(record)
    if len(roles) != len(found[1]) or any(role in _FOREIGN_ROLES for role in roles):
        return False
    if any(isinstance(t, dict) and ("tool_calls" in t or "function_call" in t) for t in found[1]):
        return False
    texts = [turn_text(t) for t in found[1]]
    strings = [t for t in texts if isinstance(t, str)]
    if any(tag in text for text in strings for tag in _TAGS):
        return True
    return roles[0] == "system" and isinstance(texts[0], str) and "<schema>" in texts[0]


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    turns = read_turns(record)
    builder = ConversationBuilder(declared_tools(record.get("tools"), "tools"))
    meta = record_meta(record, options, _META_KEYS)
    if builder.tools:
        meta["tools_from"] = "record"
    for turn in turns:
        add_turn(builder, turn, meta, keep_tool_prompt=bool(options.get("keep_tool_prompt")))
    if not builder.tools and not any("tool_calls" in m for m in builder.messages):
        _json_mode_meta(record, turns, meta)
    if options.get("keep_tool_prompt"):
        return builder.build(source, meta, strict)
    return build_clean_row(builder, source, meta, strict, options)


def add_turn(builder: ConversationBuilder, turn: Turn, meta: dict, *, keep_tool_prompt: bool = False) -> None:
    """Feed one Hermes / Qwen-tagged turn to the builder (shared with the ``qwen`` ChatML-text reader)."""
    if turn.role == "system":
        add_system(builder, turn.text, meta, keep_tool_prompt=keep_tool_prompt)
    elif turn.role == "user":
        payloads = response_payloads(turn.text)
        if payloads is not None and _awaits_results(builder):
            add_results(builder, payloads)
        else:
            builder.user(turn.text)
    elif turn.role == "assistant":
        add_assistant(builder, turn.text, turn.where)
    elif turn.role == "tool":
        outside, payloads = split_tagged(turn.text, "tool_response")
        if payloads and outside:
            raise InvalidRecord(f"{turn.where}: tool turn has text outside its <tool_response> blocks: {outside[:80]!r}")
        add_results(builder, payloads or [turn.text])
    else:
        raise InvalidRecord(f"{turn.where} has unsupported role {turn.raw.get('from', turn.raw.get('role'))!r}")


def add_system(
    builder: ConversationBuilder, text: str, meta: dict, *, keep_tool_prompt: bool = False,
    tags: tuple[str, ...] = ("tools",),
) -> bool:
    """A system text whose ``<tools>`` (or other ``tags``) block declares the tools unless the record had a list.

    Returns whether a tool block was found.
    """
    extracted = next((found for found in (extract_tools(text, tag) for tag in tags) if found is not None), None)
    if extracted is not None:
        tools, rest = extracted
        if not builder.tools:
            builder.tools = tools
            meta["tools_from"] = "system_prompt"
        text = text if keep_tool_prompt else rest
    if text.strip():
        builder.system(text)
    return extracted is not None


def add_assistant(
    builder: ConversationBuilder, text: str, where: str, tag: str = "tool_call", reasoning: str | None = None
) -> None:
    """Assistant text: ``<tag>`` payloads become calls, the rest content, a leading ``<think>`` reasoning.

    ``reasoning`` given by the caller (already split off) replaces the ``<think>`` lookup.
    """
    if reasoning is None:
        reasoning, rest = split_reasoning(strip_markers(text))
    else:
        rest = strip_markers(text)
    outside, payloads = split_tagged(rest, tag)
    if not payloads:
        builder.assistant(rest, reasoning)
        return
    if outside or reasoning:
        builder.assistant(outside, reasoning)
    names = {tool["function"]["name"] for tool in builder.tools}
    for k, payload in enumerate(payloads):
        for call in parse_call_payload(payload, names, f"{where} <{tag}> #{k}"):
            builder.call(call.name, call.arguments)
            builder.repairs += [f"{call.name}: {repair}" for repair in call.repairs]


def add_results(builder: ConversationBuilder, payloads: list[str]) -> None:
    """Tool results, unwrapped from the Hermes ``{"name", "content"}`` object where present."""
    for payload in payloads:
        name, content = unwrap_response(payload)
        builder.result(content, name)


def _awaits_results(builder: ConversationBuilder) -> bool:
    """Whether the conversation so far ends on tool calls or results (so a user turn can carry more results)."""
    last = builder.messages[-1] if builder.messages else None
    return last is not None and (last["role"] == "tool" or "tool_calls" in last)


def _json_mode_meta(record: dict, turns: list[Turn], meta: dict) -> None:
    schema: Any = record.get("schema")
    if schema is None:
        block = next((_SCHEMA_BLOCK.search(t.text) for t in turns if t.role == "system" and "<schema>" in t.text), None)
        schema = block.group(1) if block else None
    if schema is None:
        return
    meta["json_mode"] = True
    decoded = try_decode(schema) if isinstance(schema, str) else schema
    if isinstance(decoded, dict):
        meta["json_schema"] = decoded
