"""Per-source counters for the build report and the dataset card."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..schema import Row


@dataclass
class SourceStats:
    """What happened to the records of one source. Invariants: ``records_in == rows_out + rejected + duplicates +
    contaminated + near_duplicates_removed + capped`` and ``rows_out == rows_train + rows_test``."""

    config: str
    format: str
    records_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    duplicates: int = 0
    contaminated: int = 0
    """Rows removed because a user turn matches an evaluation set (``contaminated/<config>.jsonl``)."""
    near_duplicates_found: int = 0
    """Rows with an earlier near duplicate (kept when near duplicates are only reported)."""
    near_duplicates_removed: int = 0
    capped: int = 0
    """Rows beyond the source's ``max_rows``."""
    rows_train: int = 0
    rows_test: int = 0
    eval: bool = False
    weight: float = 1.0
    max_rows: int | None = None
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
    turns_per_row: Counter = field(default_factory=Counter)
    """Rows per number of assistant turns."""
    calls_per_turn: Counter = field(default_factory=Counter)
    """Assistant turns per number of calls they make (0 for a text answer)."""
    formats: Counter = field(default_factory=Counter)
    """Rows per source format (``meta.format``; several when the format is detected per file)."""
    token_counts: list[int] = field(default_factory=list)
    """Tokens of a sample of rows under the reference tokenizer (``token_sample``), when one is given."""

    def add_row(self, row: Row, split: str = "train") -> None:
        self.rows_out += 1
        if split == "test":
            self.rows_test += 1
        else:
            self.rows_train += 1
        if row["warnings"]:
            self.rows_with_warnings += 1
            self.warnings += len(row["warnings"])
        turns = 0
        for message in row["messages"]:
            if message["role"] != "assistant":
                continue
            turns += 1
            calls = len(message.get("tool_calls") or ())
            self.calls_per_turn[calls] += 1
            if calls:
                self.tool_calls += calls
                self.call_turns += 1
                self.parallel_call_turns += calls > 1
        self.turns += turns
        self.turns_per_row[turns] += 1
        language = row["meta"].get("language")
        if language:
            self.languages[language] += 1
        self.formats[str(row["meta"].get("format") or self.format)] += 1
        self.format_instructions.update(row["meta"].get("format_instructions") or ())

    def add_reject(self, reason: str) -> None:
        self.rejected += 1
        self.reject_reasons[_reason_kind(reason)] += 1

    @property
    def parallel_share(self) -> float:
        """Share of tool-calling assistant turns that make several calls at once."""
        return self.parallel_call_turns / self.call_turns if self.call_turns else 0.0

    @property
    def instructions_removed(self) -> int:
        """Rows whose format instructions were removed from their prompts."""
        return self.format_instructions.get("removed", 0)

    def balanced(self) -> bool:
        removed = self.rejected + self.duplicates + self.contaminated + self.near_duplicates_removed + self.capped
        return self.records_in == self.rows_out + removed and self.rows_out == self.rows_train + self.rows_test

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "format": self.format,
            "records_in": self.records_in,
            "rows_out": self.rows_out,
            "rejected": self.rejected,
            "duplicates_removed": self.duplicates,
            "contaminated": self.contaminated,
            "near_duplicates_removed": self.near_duplicates_removed,
            "capped": self.capped,
            "near_duplicates_found": self.near_duplicates_found,
            "rows_train": self.rows_train,
            "rows_test": self.rows_test,
            "eval": self.eval,
            "weight": self.weight,
            "max_rows": self.max_rows,
            "rows_with_warnings": self.rows_with_warnings,
            "warnings": self.warnings,
            "assistant_turns": self.turns,
            "tool_calls": self.tool_calls,
            "parallel_call_share": round(self.parallel_share, 4),
            "languages": dict(sorted(self.languages.items())),
            "format_instructions": dict(sorted(self.format_instructions.items())),
            "formats": dict(sorted(self.formats.items())),
            "assistant_turns_per_row": {str(k): v for k, v in sorted(self.turns_per_row.items())},
            "calls_per_assistant_turn": {str(k): v for k, v in sorted(self.calls_per_turn.items())},
            "tokens_per_row": _summary(self.token_counts),
            "reject_reasons": dict(self.reject_reasons.most_common()),
            "unreadable_files": list(self.unreadable_files),
        }


def _summary(values: list[int]) -> dict[str, Any] | None:
    """Sample size, mean and percentiles of token counts (None when no tokenizer was given)."""
    if not values:
        return None
    ordered = sorted(values)

    def percentile(share: float) -> int:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return {"sampled_rows": len(ordered), "mean": round(sum(ordered) / len(ordered), 1), "p50": percentile(0.5),
            "p90": percentile(0.9), "p99": percentile(0.99), "max": ordered[-1]}


def _reason_kind(reason: str) -> str:
    """Group reasons by their text without record-specific details (quoted values, numbers)."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)
    text = re.sub(r"\d+", "N", text)
    return text[:160]
