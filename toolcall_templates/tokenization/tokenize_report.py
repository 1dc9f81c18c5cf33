"""Counts of a tokenization run: rows in and out, every drop with its reason, truncations, control tokens."""

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
    ``no_trained_tokens``, ``escape_failed``."""
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

    def add_row(self, *, ref: str = "", drop_reason: str | None = None, detail: str = "",
                truncated: str | None = None, control_tokens: Iterable[str] = (), escaped: bool = False,
                tokens: int = 0, trained_tokens: int = 0) -> None:
        """Count one input row."""
        self.rows_in += 1
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
        for reason, examples in other.examples.items():
            mine = self.examples.setdefault(reason, [])
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
        }

    def summary(self) -> str:
        """One line for logs."""
        parts = [f"{self.rows_out}/{self.rows_in} rows kept", f"{self.tokens} tokens ({self.trained_tokens} trained)"]
        if self.dropped:
            parts.append("dropped " + ", ".join(f"{k}={v}" for k, v in sorted(self.dropped.items())))
        if self.truncated:
            parts.append("truncated " + ", ".join(f"{k}={v}" for k, v in sorted(self.truncated.items())))
        if self.control_tokens:
            parts.append(f"control tokens in {self.rows_with_control_tokens} rows")
        return "; ".join(parts)
