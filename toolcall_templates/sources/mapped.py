"""Any JSON dataset, through a column mapping given as options (format ``mapped``; see ``_mapping`` for the keys).

The format is never detected: it runs only when chosen (``--format CONFIG=mapped`` with ``--option CONFIG.KEY=VALUE``,
a recipe's ``format: mapped`` with ``options:``, or ``normalize(record, "mapped", **options)``).

* Conversations: the turn list of column ``messages``; each turn's role (mapped by ``roles``) and text. Assistant turns
  carry calls in their ``tool_calls`` field (``[{"name", "arguments"}]`` or OpenAI-wrapped, as objects or JSON
  text), or, when ``tool_calls`` names the content key itself, as their whole text when that is JSON call objects
  (any other text stays text); ``tool_call`` turns carry them as their text (JSON, one call or a list). ``tool``
  turns are results, linked by their ``tool_call_id`` or ``name``, else by position (several results packed in one
  turn as a JSON list or with LLaMA-Factory's joiner are split). A leading ``<think>`` block or the ``reasoning``
  field becomes ``reasoning_content``. An optional ``system`` column is the system prompt.
* Single-turn records (``query`` given): ``user(query)``, then the calls of ``answers`` and/or the text of
  ``response``; an empty answer list without a response gives the ``no_call_text`` refusal (``meta.synthetic_content``).
* Tools come from column ``tools`` (JSON text or a list, any shape ``read_tools`` accepts).

A record the mapping does not fit is rejected with ``InvalidRecord`` naming the missing or unmapped field; format
instructions in prompts are removed as for every other source (``_instructions``).
"""

from __future__ import annotations

import json
from typing import Any

from ..arguments import parse_json_value
from ..conversation import ConversationBuilder, as_text, split_reasoning
from ..errors import InvalidRecord
from ..schema import Row
from ._call_objects import call_objects
from ._instructions import build_clean_row
from ._located import add_call, add_result
from ._mapping import MAPPING_OPTIONS, Mapping, parse_mapping
from ._reference import no_call_text, provenance
from ._results import split_results
from ._tool_defs import read_tools

FORMAT = "mapped"
OPTIONS: tuple[str, ...] = (*MAPPING_OPTIONS, "license", "language", "no_call_text", "keep_format_instructions")


def detect(record: dict) -> bool:
    """Never: a mapping is a choice of the user, not something a record can show."""
    return False


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    mapping = parse_mapping(options)
    builder = _builder(record, mapping)
    meta: dict[str, Any] = provenance(options)
    if mapping.single_turn:
        meta.update(_single_turn(builder, record, mapping, options))
    else:
        _conversation(builder, record, mapping)
    return build_clean_row(builder, source, meta, strict, options)


def _builder(record: dict, mapping: Mapping) -> ConversationBuilder:
    tools, notes = read_tools(record.get(mapping.tools), mapping.tools)
    builder = ConversationBuilder(tools)
    builder.notes += notes
    if mapping.system is not None:
        system = record.get(mapping.system)
        if system not in (None, ""):
            builder.system(as_text(system, f"column {mapping.system!r}"))
    return builder


def _conversation(builder: ConversationBuilder, record: dict, mapping: Mapping) -> None:
    turns = parse_json_value(record.get(mapping.messages), f"column {mapping.messages!r}")
    if not isinstance(turns, list) or not turns:
        raise InvalidRecord(f"record has no non-empty list of turns in column {mapping.messages!r} "
                            f"(mapping option 'messages'; its columns are {sorted(record)[:12]})")
    pending, previous = 0, None
    for index, turn in enumerate(turns):
        where = f"{mapping.messages}[{index}]"
        if not isinstance(turn, dict):
            raise InvalidRecord(f"{where} is not an object")
        if mapping.role not in turn:
            raise InvalidRecord(f"{where} has no {mapping.role!r} field (mapping option 'role'; the turn has "
                                f"{sorted(turn)})")
        role = mapping.canonical_role(turn[mapping.role])
        if role is None:
            raise InvalidRecord(f"{where} has role {turn[mapping.role]!r}, which the mapping does not map (option "
                                f"'roles' maps {mapping.roles or 'nothing'}; the canonical names map to themselves)")
        content = turn.get(mapping.content)
        if role == "system":
            builder.system(content)
        elif role == "user":
            builder.user(content)
        elif role == "assistant":
            pending = _assistant(builder, turn, mapping, where)
        elif role == "tool_call":
            calls = call_objects(content, f"{where}.{mapping.content}")
            for call in calls:
                add_call(builder, where, call.name, call.arguments, call.call_id)
            pending = len(calls) + (pending if previous == "tool_call" else 0)
        else:
            pending = _results(builder, turn, mapping, where, pending)
        if role in ("system", "user"):
            pending = 0
        previous = role


def _assistant(builder: ConversationBuilder, turn: dict, mapping: Mapping, where: str) -> int:
    """An assistant turn: its text, reasoning and calls; returns how many calls it makes."""
    text = as_text(turn.get(mapping.content), f"{where}.{mapping.content}")
    reasoning = turn.get(mapping.reasoning) if isinstance(turn.get(mapping.reasoning), str) else None
    if not reasoning:
        reasoning, text = split_reasoning(text)
    if mapping.tool_calls == mapping.content:
        calls = _calls_in_text(text, f"{where}.{mapping.content}")
        text = "" if calls else text
    else:
        raw_calls = turn.get(mapping.tool_calls)
        calls = call_objects(raw_calls, f"{where}.{mapping.tool_calls}") if raw_calls not in (None, "", []) else []
    if text or reasoning or not calls:
        builder.assistant(text, reasoning)
    for call in calls:
        add_call(builder, where, call.name, call.arguments, call.call_id)
    return len(calls)


def _calls_in_text(text: str, where: str) -> list:
    """The calls of an assistant text that is nothing but JSON call objects (``tool_calls`` mapped to the content)."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return []
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        return []
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, dict) and ("name" in i or isinstance(i.get("function"), dict)) for i in items):
        return []
    return call_objects(value, where)


def _results(builder: ConversationBuilder, turn: dict, mapping: Mapping, where: str, pending: int) -> int:
    """A tool turn: one result, or several packed ones; returns the calls still waiting for a result."""
    text = as_text(turn.get(mapping.content), f"{where}.{mapping.content}")
    name = turn.get(mapping.name) if isinstance(turn.get(mapping.name), str) and turn.get(mapping.name) else None
    call_id = turn.get(mapping.tool_call_id)
    call_id = call_id if isinstance(call_id, str) and call_id else None
    if name is not None or call_id is not None:
        add_result(builder, where, text, name, call_id)
        return max(pending - 1, 0)
    results = split_results(text, pending)
    for result in results:
        add_result(builder, where, result.content, result.name, result.call_id)
    return max(pending - len(results), 0)


def _single_turn(builder: ConversationBuilder, record: dict, mapping: Mapping, options: dict) -> dict[str, Any]:
    """``user(query)`` then the gold calls and/or text answer; returns the meta facts of such a row."""
    query = record.get(mapping.query)
    if not isinstance(query, str) or not query.strip():
        raise InvalidRecord(f"record has no text in column {mapping.query!r} (mapping option 'query'; its columns "
                            f"are {sorted(record)[:12]})")
    builder.user(query)
    answers = parse_json_value(record.get(mapping.answers), f"column {mapping.answers!r}") if mapping.answers else None
    response = record.get(mapping.response) if mapping.response else None
    if answers is None and response in (None, ""):
        fields = " or ".join(repr(f) for f in (mapping.answers, mapping.response) if f)
        raise InvalidRecord(f"record has no answer in column {fields} (mapping options 'answers' / 'response')")
    meta: dict[str, Any] = {"reference_answer": True}
    if response not in (None, ""):
        builder.assistant(as_text(response, f"column {mapping.response!r}"))
    elif answers in ([], {}):
        builder.assistant(no_call_text(options))
        meta["synthetic_content"] = True
    if answers not in (None, [], {}):
        for call in call_objects(answers, f"column {mapping.answers!r}"):
            add_call(builder, f"column {mapping.answers!r}", call.name, call.arguments, call.call_id)
    return meta
