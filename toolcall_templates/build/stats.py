"""Per-source counters for the build report and the dataset card."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..schema import Row


@dataclass
class SourceStats:
    """What happened to the records of one source. Invariant: ``records_in == rows_out + rejected + duplicates``."""

    config: str
    format: str
    records_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    duplicates: int = 0
    rows_with_warnings: int = 0
    warnings: int = 0
    turns: int = 0
    tool_calls: int = 0
    call_turns: int = 0
    parallel_call_turns: int = 0
    reject_reasons: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    unreadable_files: list[dict[str, str]] = field(default_factory=list)
    """Files that are neither a JSON document nor JSON lines: ``{"file", "reason"}``; no record of them is counted."""
    format_instructions: Counter = field(default_factory=Counter)
    """Rows per outcome of prompt cleaning (``meta.format_instructions``: removed / kept_unrecognized / kept_no_tools)."""

    def add_row(self, row: Row) -> None:
        self.rows_out += 1
        if row["warnings"]:
            self.rows_with_warnings += 1
            self.warnings += len(row["warnings"])
        for message in row["messages"]:
            if message["role"] != "assistant":
                continue
            self.turns += 1
            calls = len(message.get("tool_calls") or ())
            if calls:
                self.tool_calls += calls
                self.call_turns += 1
                self.parallel_call_turns += calls > 1
        language = row["meta"].get("language")
        if language:
            self.languages[language] += 1
        self.format_instructions.update(row["meta"].get("format_instructions") or ())

    def add_reject(self, reason: str) -> None:
        self.rejected += 1
        self.reject_reasons[_reason_kind(reason)] += 1

    @property
    def parallel_share(self) -> float:
        """Share of tool-calling assistant turns that make several calls at once."""
        return self.parallel_call_turns / self.call_turns if self.call_turns else 0.0

    def balanced(self) -> bool:
        return self.records_in == self.rows_out + self.rejected + self.duplicates

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "format": self.format,
            "records_in": self.records_in,
            "rows_out": self.rows_out,
            "rejected": self.rejected,
            "duplicates_removed": self.duplicates,
            "rows_with_warnings": self.rows_with_warnings,
            "warnings": self.warnings,
            "assistant_turns": self.turns,
            "tool_calls": self.tool_calls,
            "parallel_call_share": round(self.parallel_share, 4),
            "languages": dict(sorted(self.languages.items())),
            "format_instructions": dict(sorted(self.format_instructions.items())),
            "reject_reasons": dict(self.reject_reasons.most_common()),
            "unreadable_files": list(self.unreadable_files),
        }


def _reason_kind(reason: str) -> str:
    """Group reasons by their text without record-specific details (quoted values, numbers)."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)
    text = re.sub(r"\d+", "N", text)
    return text[:160]
