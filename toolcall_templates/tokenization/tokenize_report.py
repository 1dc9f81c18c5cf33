"""Counts of a tokenization run: rows in and out, every drop with its reason, truncations, control tokens, and how
many conversations one row holds exactly (the general path may split a conversation, or leave turns out)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

MAX_EXAMPLES = 5
"""Row references kept per drop reason, to find the rows again."""


@dataclass
class TokenizeReport:
    rows_in: int = 0
    rows_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    """Drop reason -> rows: ``invalid_row``, ``control_token``, ``template_error``, ``too_long``,
    ``no_trained_tokens``, ``escape_failed``; on the general path also ``history_rewritten`` (``history="drop"``
    and one row cannot hold the conversation exactly) and the turn reasons of ``turns_left_out`` (no turn left)."""
    truncated: Counter = field(default_factory=Counter)
    """Truncation policy -> rows kept after being shortened."""
    control_tokens: Counter = field(default_factory=Counter)
    """Control-token string -> occurrences in the data (rejected or escaped rows)."""
    rows_with_control_tokens: int = 0
    escaped_rows: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)
    """Drop reason -> up to ``MAX_EXAMPLES`` ``"<row ref>: <detail>"`` strings."""
    packing: dict[str, Any] | None = None
    """With ``pack=True``: packed rows, share of capacity filled, first labels masked at sequence starts."""
    history: Counter = field(default_factory=Counter)
    """Kept conversations by how their rows hold them: ``exact`` (one row, every assistant turn), ``split`` (one row
    per run of turns that chain exactly), ``partial`` (some turns left out, see ``turns_left_out``)."""
    turns_left_out: Counter = field(default_factory=Counter)
    """Reason -> assistant turns of kept conversations that no row trains (``prompt_mismatch``, ``no_stop_token``,
    ``turn_not_rendered``, ``template_error``, ``too_long``)."""
    turn_examples: dict[str, list[str]] = field(default_factory=dict)
    reasoning_not_rendered: int = 0
    """Trained turns whose ``reasoning_content`` the template does not render."""
    template: str | None = None
    """The template used: a shipped name, or ``own`` (the tokenizer's own chat template, as it is)."""
    stop_tokens: list[str] = field(default_factory=list)

    @property
    def conversations_kept(self) -> int:
        """Input rows that gave at least one training row (``rows_in == conversations_kept + rows_dropped``)."""
        return sum(self.history.values())

    def add_row(self, *, ref: str = "", drop_reason: str | None = None, detail: str = "",
                truncated: str | None = None, control_tokens: Iterable[str] = (), escaped: bool = False,
                tokens: int = 0, trained_tokens: int = 0, part: int = 0, history: str | None = None,
                turns_left_out: Iterable[str] = (), reasoning_not_rendered: int = 0) -> None:
        """Count one output row: the first (``part == 0``) of an input row counts the input row and its statuses,
        the others (further rows of a split conversation) only their tokens."""
        if part:
            self.rows_out += 1
            self.tokens += tokens
            self.trained_tokens += trained_tokens
            return
        self.rows_in += 1
        for entry in turns_left_out or ():
            reason, _, rest = entry.partition(": ")
            self.turns_left_out[reason] += 1
            examples = self.turn_examples.setdefault(reason, [])
            if len(examples) < MAX_EXAMPLES:
                examples.append(f"{ref}: {rest}" if ref else rest)
        self.reasoning_not_rendered += reasoning_not_rendered
        found = list(control_tokens or ())
        if found:
            self.rows_with_control_tokens += 1
            self.control_tokens.update(found)
        if escaped:
            self.escaped_rows += 1
        if truncated and drop_reason is None:
            self.truncated[truncated] += 1
        if drop_reason is not None:
            self.dropped[drop_reason] += 1
            examples = self.examples.setdefault(drop_reason, [])
            if len(examples) < MAX_EXAMPLES:
                examples.append(f"{ref}: {detail}" if ref else detail)
            return
        self.history[history or "exact"] += 1
        self.rows_out += 1
        self.tokens += tokens
        self.trained_tokens += trained_tokens

    def merge(self, other: "TokenizeReport") -> "TokenizeReport":
        self.rows_in += other.rows_in
        self.rows_out += other.rows_out
        self.dropped.update(other.dropped)
        self.truncated.update(other.truncated)
        self.control_tokens.update(other.control_tokens)
        self.rows_with_control_tokens += other.rows_with_control_tokens
        self.escaped_rows += other.escaped_rows
        self.tokens += other.tokens
        self.trained_tokens += other.trained_tokens
        self.history.update(other.history)
        self.turns_left_out.update(other.turns_left_out)
        self.reasoning_not_rendered += other.reasoning_not_rendered
        for mine_all, theirs in ((self.examples, other.examples), (self.turn_examples, other.turn_examples)):
            for reason, examples in theirs.items():
                mine = mine_all.setdefault(reason, [])
                mine.extend(examples[: MAX_EXAMPLES - len(mine)])
        return self

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_dropped": self.rows_dropped,
            "dropped": dict(sorted(self.dropped.items())),
            "truncated": dict(sorted(self.truncated.items())),
            "rows_with_control_tokens": self.rows_with_control_tokens,
            "escaped_rows": self.escaped_rows,
            "control_tokens": dict(self.control_tokens.most_common()),
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "drop_examples": self.examples,
            "packing": self.packing,
            "template": self.template,
            "stop_tokens": self.stop_tokens,
            "conversations_kept": self.conversations_kept,
            "history": dict(sorted(self.history.items())),
            "turns_left_out": dict(sorted(self.turns_left_out.items())),
            "turn_examples": self.turn_examples,
            "reasoning_not_rendered": self.reasoning_not_rendered,
        }

    def summary(self) -> str:
        """One line for logs."""
        kept = f"{self.conversations_kept}/{self.rows_in} rows kept"
        if self.rows_out != self.conversations_kept:
            kept += f" as {self.rows_out} training rows"
        parts = [kept, f"{self.tokens} tokens ({self.trained_tokens} trained)"]
        if self.dropped:
            parts.append("dropped " + ", ".join(f"{k}={v}" for k, v in sorted(self.dropped.items())))
        if self.truncated:
            parts.append("truncated " + ", ".join(f"{k}={v}" for k, v in sorted(self.truncated.items())))
        if set(self.history) - {"exact"}:
            parts.append("conversations " + ", ".join(f"{k}={v}" for k, v in sorted(self.history.items())))
        if self.turns_left_out:
            parts.append("turns left out " + ", ".join(f"{k}={v}" for k, v in sorted(self.turns_left_out.items())))
        if self.control_tokens:
            parts.append(f"control tokens in {self.rows_with_control_tokens} rows")
        return "; ".join(parts)
