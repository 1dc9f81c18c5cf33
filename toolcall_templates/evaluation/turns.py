"""The turns an evaluation generates: every assistant message of a row that declares tools, with its prefix.

Rows are canonical rows (``toolcall build`` output) or any record ``normalize`` accepts (OpenAI messages with
``content: null`` and arguments as JSON text, ShareGPT, ...), normalized on the way. Every row is accounted for:
it gives turns, or it is skipped with a reason (``invalid_row``: it cannot be decoded, or normalize rejects it;
``no_tools``: it declares no tool, so there is nothing to call; ``no_turn``: it has no assistant message of the kind
asked for). A turn whose prompt the template cannot render is left out with the template's error
(``template_error``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..errors import InvalidRecord
from .prompts import EvalTemplate

TURN_KINDS: tuple[str, ...] = ("all", "calls")
"""``all``: every assistant message (call turns and no-call turns); ``calls``: only those that call tools."""
EXAMPLES_PER_REASON = 5


class UnreadableRecord(NamedTuple):
    """A record of a file that could not be decoded (bad JSON line), in place of the row."""

    reason: str


@dataclass
class EvalTurn:
    """One assistant message to generate, from the messages before it."""

    row_id: str
    message_index: int
    messages: list[dict[str, Any]]
    """The conversation up to (not including) the assistant message."""
    tools: list[dict[str, Any]]
    reference: dict[str, Any]
    """The assistant message the dataset holds (canonical: ``tool_calls`` arguments are objects)."""
    prompt: str | None = None
    """The rendered inference prompt (None when the server renders it: the chat completions backend)."""

    @property
    def reference_calls(self) -> list[dict[str, Any]]:
        return list(self.reference.get("tool_calls") or [])


@dataclass
class TurnSelection:
    """The turns of a set of rows, and what became of every row."""

    turns: list[EvalTurn] = field(default_factory=list)
    rows_in: int = 0
    rows_used: int = 0
    skipped: Counter = field(default_factory=Counter)
    """Rows skipped, by reason."""
    left_out: Counter = field(default_factory=Counter)
    """Turns left out (the template cannot render their prompt), by reason."""
    examples: dict[str, list[str]] = field(default_factory=dict)
    """A few ``"row <id>: detail"`` per reason."""

    def note(self, counter: Counter, reason: str, detail: str) -> None:
        counter[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(detail)


def select_turns(rows: Iterable[Mapping[str, Any]], template: EvalTemplate | None, *, kinds: str = "all",
                 limit: int | None = None) -> TurnSelection:
    """The turns of ``rows`` (the first ``limit`` rows), with prompts rendered by ``template`` (None: no prompt, for a
    server that renders messages itself)."""
    if kinds not in TURN_KINDS:
        raise ValueError(f"turns must be one of {TURN_KINDS}, got {kinds!r}")
    selection = TurnSelection()
    for position, record in enumerate(rows):
        if limit is not None and position >= limit:
            break
        selection.rows_in += 1
        if isinstance(record, UnreadableRecord):
            selection.note(selection.skipped, "invalid_row", f"row {position}: {record.reason}")
            continue
        try:
            row = canonical_row(record)
        except InvalidRecord as exc:
            selection.note(selection.skipped, "invalid_row", f"row {position}: {exc.reason}")
            continue
        row_id = str(row.get("id") or f"row {position}")
        if not row.get("tools"):
            selection.note(selection.skipped, "no_tools", f"row {row_id}: declares no tools")
            continue
        turns = _row_turns(row, row_id, kinds)
        if not turns:
            selection.note(selection.skipped, "no_turn", f"row {row_id}: no assistant message "
                                                         f"{'that calls tools' if kinds == 'calls' else ''}".strip())
            continue
        kept = 0
        for turn in turns:
            if template is not None:
                try:
                    turn.prompt = template.prompt(turn.messages, turn.tools)
                except Exception as exc:  # noqa: BLE001 - the template's own error is the reason
                    selection.note(selection.left_out, "template_error",
                                   f"row {row_id} message {turn.message_index}: {type(exc).__name__}: {exc}"[:300])
                    continue
            selection.turns.append(turn)
            kept += 1
        selection.rows_used += bool(kept)
    return selection


def canonical_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of a row (itself when it is one); ``InvalidRecord`` with the reason otherwise."""
    from ..tokenization.raw_rows import as_canonical

    return dict(as_canonical(dict(record)))


def _row_turns(row: Mapping[str, Any], row_id: str, kinds: str) -> list[EvalTurn]:
    messages = [dict(message) for message in row["messages"]]
    return [EvalTurn(row_id=row_id, message_index=index, messages=messages[:index], tools=list(row["tools"]),
                     reference=message)
            for index, message in enumerate(messages)
            if message.get("role") == "assistant" and index > 0 and (kinds == "all" or message.get("tool_calls"))]
