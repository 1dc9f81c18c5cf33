"""Tool-format instructions in prompts: removed from a row when its tools are declared, kept in ``meta``, restorable.

A source that wrote its own calling convention into the system prompt ("You are a function calling AI model ...
within <tool_call></tool_call> XML tags", a ReAct "Use the following format: ... Action Input: ...", ToolBench's
AutoGPT prompt, Glaive's preamble, GLM-4's "# 可用工具") would, rendered by another model's template, describe one
format and train another. ``build_clean_row`` (the one entry point: source normalizers call it instead of
``builder.build``) removes exactly the blocks of ``_instruction_patterns`` from the system messages, and from the first
user turn where a format puts its prompt there, when the row declares tools:

* the author's own text around a block stays; a system message left empty is dropped;
* what was removed is kept in ``meta["removed_instructions"]`` (``[{"message", "role", "dropped", "spans":
  [{"position", "text", "formats"}]}]``, positions in the original text) so that ``restore_instructions(row)`` gives
  back the row that ``keep_format_instructions=True`` builds (same messages, id, meta and warnings);
* text that still gives an instruction away (``TELLTALES``) after cleaning is kept, never guessed at: the row gets a
  warning and ``meta["format_instructions"]`` lists ``"kept_unrecognized"``; a row without tools keeps its
  instructions (they are then its only description of the tools) with ``"kept_no_tools"``; ``"removed"`` marks rows
  that were cleaned.

The row id is the content hash, so cleaned rows get new ids, and rows that differ only in their instruction text
become duplicates. Synthesized tool-call ids are derived from the conversation without its instructions in both
modes. Option ``keep_format_instructions=True`` keeps the prompts verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..conversation import ConversationBuilder, assign_call_ids, content_id
from ..schema import Message, Row
from ..validation import validate_calls
from ._instruction_patterns import (
    SYSTEM_BLOCKS,
    SYSTEM_COMPANIONS,
    TELLTALES,
    TRIGGERS,
    USER_BLOCKS,
    USER_PIECES,
    Finder,
)

OPTION = "keep_format_instructions"
REMOVED_KEY = "removed_instructions"
OUTCOME_KEY = "format_instructions"
WARNING_PREFIX = "format instructions kept: "
MESSAGE_INDEXED_META = ("loss_weights",)
"""``meta`` maps keyed by message index (GLM-4 / LLaMA-Factory loss flags): re-keyed when a message is dropped."""
_EMPTY = re.compile(r"[\s\-–:：,，.。;；]*")


@dataclass(frozen=True)
class Span:
    """A piece of a text found to be a tool-format instruction of ``formats``."""

    start: int
    end: int
    formats: tuple[str, ...]


def find_instructions(text: str, blocks: dict[str, tuple[Finder, ...]] = SYSTEM_BLOCKS,
                      triggers: dict[str, re.Pattern] = TRIGGERS,
                      companions: dict[str, tuple[Finder, ...]] = SYSTEM_COMPANIONS) -> list[Span]:
    """The instruction blocks in ``text`` (overlapping finds merged), in order: a family whose trigger the text lacks
    is not searched, and a companion sentence counts only where it touches a block of its family."""
    spans: list[Span] = []
    for family, finders in blocks.items():
        if family in triggers and not triggers[family].search(text):
            continue
        found = _merged([Span(s, e, (family,)) for finder in finders for s, e in finder(text) if e > s], text)
        extra = [Span(s, e, (family,)) for finder in companions.get(family, ()) for s, e in finder(text) if e > s]
        while found and extra:
            touching = [span for span in extra if any(_touch(span, block, text) for block in found)]
            if not touching:
                break
            extra = [span for span in extra if span not in touching]
            found = _merged([*found, *touching], text)
        spans += found
    return _merged(spans, text)


def build_clean_row(builder: ConversationBuilder, source: str, meta: dict[str, Any] | None, strict: bool,
                    options: dict[str, Any], *, user_prompt: bool = False) -> Row:
    """``builder.build(source, meta, strict)`` with the tool-format instructions removed from the prompts (module doc).

    ``user_prompt``: the format may put its prompt in the first user turn (ReAct prompting, ToolBench's "Begin!").
    Synthesized call ids come from the conversation without its instructions whether or not they are kept, so a
    row and its ``keep_format_instructions=True`` twin have the same calls.
    """
    keep = bool(options.get(OPTION))
    messages = builder.messages
    plan = _plan(messages, user_prompt)
    row_meta = dict(meta or {})
    outcomes: set[str] = set()
    if not builder.tools:
        warnings = [] if keep else _kept_without_tools(messages, plan)
        outcomes |= {"kept_no_tools"} if warnings else set()
    else:
        cleaned = [dict(message) if index in plan else message for index, message in enumerate(messages)]
        removed = _remove(cleaned, plan)
        assign_call_ids(cleaned, builder.tools)
        warnings = [] if keep else _unrecognized(cleaned, plan, removed)
        outcomes |= {"kept_unrecognized"} if warnings else set()
        if removed and not keep:
            builder.messages = cleaned
            outcomes.add("removed")
            row_meta[REMOVED_KEY] = removed
            _drop_indexed_meta(row_meta, removed)
    row = builder.build(source, row_meta, strict)
    if outcomes:
        row["meta"][OUTCOME_KEY] = sorted(outcomes)
    row["warnings"] = warnings + row["warnings"]
    return row


def _plan(messages: list[Message], user_prompt: bool) -> dict[int, list[Span]]:
    """The instruction spans of every system message (and of the first user turn with ``user_prompt``)."""
    plan = {index: find_instructions(m["content"]) for index, m in enumerate(messages) if m["role"] == "system"}
    first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
    if user_prompt and first_user is not None:
        cleaned = {f for spans in plan.values() for span in spans for f in span.formats}
        text = messages[first_user]["content"]
        pieces = find_instructions(text, {f: USER_PIECES[f] for f in USER_PIECES if f in cleaned}, triggers={})
        plan[first_user] = _merged([*find_instructions(text, USER_BLOCKS), *pieces], text)
    return plan


def restore_instructions(row: Row) -> Row:
    """A copy of ``row`` with the instruction text that ``build_clean_row`` removed put back: the same messages, id,
    meta and warnings as the row built with ``keep_format_instructions=True`` (validation findings, which name
    message indices, are recomputed). Rows without removals come back without the cleaning's warnings and meta keys."""
    meta = dict(row["meta"])
    entries = meta.pop(REMOVED_KEY, None) or []
    meta.pop(OUTCOME_KEY, None)
    messages = [dict(message) for message in row["messages"]]
    for entry in sorted(entries, key=lambda e: e["message"]):
        index = entry["message"]
        if entry["dropped"]:
            messages.insert(index, {"role": entry["role"], "content": ""})
        elif index >= len(messages) or messages[index]["role"] != entry["role"]:
            raise ValueError(f"row {row['id']}: message {index} is not the {entry['role']} message its "
                             f"{REMOVED_KEY} entry was recorded for")
        text = messages[index]["content"]
        for span in sorted(entry["spans"], key=lambda s: s["position"]):
            text = text[:span["position"]] + span["text"] + text[span["position"]:]
        messages[index]["content"] = text
    _restore_indexed_meta(meta, entries, len(messages))
    tools = row["tools"] or []
    cleaned_findings = set(validate_calls(row["messages"], tools))  # they name message indices of the cleaned row
    warnings = [w for w in row["warnings"] if not w.startswith(WARNING_PREFIX) and w not in cleaned_findings]
    return {**row, "id": content_id(tools, messages), "messages": messages, "meta": meta,
            "warnings": warnings + validate_calls(messages, tools)}


def _kept_without_tools(messages: list, plan: dict[int, list[Span]]) -> list[str]:
    """Warnings for instructions kept because the row declares no tools (they are then its only tool description)."""
    warnings = []
    for index, spans in sorted(plan.items()):
        families = sorted({f for span in spans for f in span.formats})
        if not families and messages[index]["role"] == "system":
            families = [f for f in (_telltale(messages[index]["content"]),) if f]
        if families:
            warnings.append(f"{WARNING_PREFIX}message {index} ({messages[index]['role']}) holds "
                            f"{'/'.join(families)} tool-format instructions, but the row declares no tools")
    return warnings


def _remove(messages: list, plan: dict[int, list[Span]]) -> list[dict[str, Any]]:
    """Cut the planned spans out of their messages (dropping system messages left empty; a user turn is never
    emptied); the meta entries of the cuts."""
    entries = []
    for index in sorted(plan):
        if not plan[index]:
            continue
        text = messages[index]["content"]
        cuts = _with_joints(plan[index], text)
        kept = _apply(text, cuts)
        dropped = not kept or bool(_EMPTY.fullmatch(kept))
        if dropped and messages[index]["role"] != "system":
            continue
        if dropped:
            cuts = [Span(0, len(text), tuple(sorted({f for cut in cuts for f in cut.formats})))]
            kept = ""
        messages[index]["content"] = kept
        entries.append({"message": index, "role": messages[index]["role"], "dropped": dropped,
                        "spans": [{"position": cut.start, "text": text[cut.start:cut.end], "formats": list(cut.formats)}
                                  for cut in cuts]})
    for entry in reversed(entries):
        if entry["dropped"]:
            del messages[entry["message"]]
    return entries


def _drop_indexed_meta(meta: dict[str, Any], removed: list[dict[str, Any]]) -> None:
    """Re-key message-indexed meta maps after dropped messages; a dropped message's own value goes to its entry."""
    dropped = {entry["message"]: entry for entry in removed if entry["dropped"]}
    for key in MESSAGE_INDEXED_META:
        values = meta.get(key)
        if not dropped or not isinstance(values, dict):
            continue
        rekeyed = {}
        for index, value in values.items():
            if int(index) in dropped:
                dropped[int(index)].setdefault("meta", {})[key] = value
            else:
                rekeyed[str(int(index) - sum(1 for d in dropped if d < int(index)))] = value
        meta[key] = rekeyed


def _restore_indexed_meta(meta: dict[str, Any], entries: list[dict[str, Any]], count: int) -> None:
    dropped = {entry["message"]: entry for entry in entries if entry["dropped"]}
    if not dropped:
        return
    original = [index for index in range(count) if index not in dropped]
    for key in MESSAGE_INDEXED_META:
        values = meta.get(key)
        restored = {str(index): entry["meta"][key] for index, entry in dropped.items() if key in entry.get("meta", {})}
        if isinstance(values, dict):
            restored.update({str(original[int(index)]): value for index, value in values.items()})
        if restored or isinstance(values, dict):
            meta[key] = dict(sorted(restored.items(), key=lambda item: int(item[0])))


def _unrecognized(messages: list, plan: dict[int, list[Span]], removed: list[dict[str, Any]]) -> list[str]:
    """Warnings for planned messages that still hold a telltale after cleaning (indices of the original row)."""
    dropped = {entry["message"] for entry in removed if entry["dropped"]}
    warnings = []
    for index in sorted(plan):
        if index in dropped:
            continue
        position = index - sum(1 for d in dropped if d < index)
        text = messages[position]["content"]
        family = _telltale(text)
        if family is not None:
            match = TELLTALES[family].search(text)
            snippet = text[max(match.start() - 40, 0): match.end() + 40].strip()
            warnings.append(f"{WARNING_PREFIX}message {index} ({messages[position]['role']}) still holds text that "
                            f"looks like a {family} tool-format instruction, not recognized so not removed: {snippet!r}")
    return warnings


def _telltale(text: str) -> str | None:
    return next((family for family, pattern in TELLTALES.items() if pattern.search(text)), None)


def _merged(spans: Iterable[Span], text: str) -> list[Span]:
    """Overlapping spans, and spans separated only by whitespace, become one."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if out and (span.start <= out[-1].end or not text[out[-1].end:span.start].strip()):
            last = out[-1]
            out[-1] = Span(last.start, max(last.end, span.end), tuple(sorted(set(last.formats) | set(span.formats))))
        else:
            out.append(span)
    return out


def _touch(a: Span, b: Span, text: str) -> bool:
    """Whether two spans overlap or are separated by whitespace only."""
    first, second = (a, b) if a.start <= b.start else (b, a)
    return second.start <= first.end or not text[first.end:second.start].strip()


def _with_joints(spans: list[Span], text: str) -> list[Span]:
    """Spans widened over the whitespace that joined them to the kept text (after them; before them at the end)."""
    out = []
    for span in spans:
        start, end = span.start, span.end
        while end < len(text) and text[end].isspace():
            end += 1
        if end == len(text) or not text[:start].strip():
            while start > 0 and text[start - 1].isspace():
                start -= 1
        out.append(Span(start, end, span.formats))
    return _merged(out, text)


def _apply(text: str, cuts: list[Span]) -> str:
    pieces, pos = [], 0
    for cut in cuts:
        pieces.append(text[pos:cut.start])
        pos = cut.end
    pieces.append(text[pos:])
    return "".join(pieces)
