"""The evaluation report: per-turn records, the scores of each kind of turn, and the terminal table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .generation import Generation
from .scoring import TurnScore
from .turns import EvalTurn, TurnSelection

GROUPS = (("call_turns", "call turns"), ("no_call_turns", "no-call turns"), ("all_turns", "all turns"))


@dataclass
class TurnRecord:
    """One evaluated turn: where it is, what was expected, what came out, and its score."""

    turn: EvalTurn
    generation: Generation
    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    score: TurnScore | None = None
    """None when the backend produced nothing (``generation.error``)."""

    def to_dict(self) -> dict[str, Any]:
        reference = self.turn.reference
        return {
            "row_id": self.turn.row_id,
            "message_index": self.turn.message_index,
            "reference": {"content": reference.get("content", ""),
                          "tool_calls": [_call(c) for c in self.turn.reference_calls]},
            "generated": self.generation.text,
            "finish_reason": self.generation.finish_reason,
            "new_tokens": self.generation.new_tokens,
            "content": self.content,
            "tool_calls": [_call(c) for c in self.tool_calls],
            **({"reasoning": self.generation.reasoning} if self.generation.reasoning else {}),
            **({"error": self.generation.error} if self.generation.error else {}),
            **(self.score.to_dict() if self.score else {}),
        }


def _call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    return {"name": function.get("name"), "arguments": function.get("arguments")}


def group_scores(scores: Sequence[TurnScore]) -> dict[str, Any]:
    """The rates of one group of turns (each ``None`` where no turn of the group has that score)."""
    calls = [s for s in scores if s.calls_expected]
    no_calls = [s for s in scores if not s.calls_expected]
    made = sum(s.calls for s in scores)
    exact = sum(bool(s.exact_match) for s in calls) + sum(bool(s.no_call) for s in no_calls)
    return {
        "turns": len(scores),
        "tool_name_accuracy": _rate(sum(bool(s.name_match) for s in calls), len(calls)),
        "exact_match": _rate(sum(bool(s.exact_match) for s in calls), len(calls)),
        "no_call_accuracy": _rate(sum(bool(s.no_call) for s in no_calls), len(no_calls)),
        "turn_accuracy": _rate(exact, len(scores)),
        "argument_validity": _rate(sum(s.valid_calls for s in scores), made),
        "calls_made": made,
        "stopped_rate": _rate(sum(s.stopped for s in scores), len(scores)),
        "parse_failures": sum(s.parse_failure for s in scores),
    }


def _rate(hits: int, total: int) -> dict[str, Any] | None:
    return {"hits": hits, "total": total, "rate": hits / total} if total else None


@dataclass
class EvalReport:
    """What was evaluated, how every row and turn was accounted for, the scores, and every turn's record."""

    setup: dict[str, Any]
    selection: TurnSelection
    records: list[TurnRecord]

    @property
    def scored(self) -> list[TurnScore]:
        return [record.score for record in self.records if record.score is not None]

    @property
    def scores(self) -> dict[str, Any]:
        """``{"call_turns", "no_call_turns", "all_turns"}`` -> :func:`group_scores`."""
        scored = self.scored
        return {"call_turns": group_scores([s for s in scored if s.calls_expected]),
                "no_call_turns": group_scores([s for s in scored if not s.calls_expected]),
                "all_turns": group_scores(scored)}

    def counts(self) -> dict[str, Any]:
        selection = self.selection
        errors = Counter(" ".join(record.generation.error.split()[:2])  # "HTTP 400"
                         for record in self.records if record.generation.error)
        return {"rows_in": selection.rows_in, "rows_evaluated": selection.rows_used,
                "rows_skipped": dict(selection.skipped), "turns_left_out": dict(selection.left_out),
                "turns_generated": len(self.records), "turns_scored": len(self.scored),
                "generation_errors": dict(errors), "examples": selection.examples}

    def to_dict(self) -> dict[str, Any]:
        return {**self.setup, "counts": self.counts(), "scores": self.scores,
                "turns": [record.to_dict() for record in self.records]}

    def table(self) -> str:
        """The scores as an aligned text table: one column per kind of turn."""
        scores = self.scores
        lines = [("", *(title for _, title in GROUPS))]
        for key, label in _ROWS:
            lines.append((label, *(_cell(scores[group].get(key)) for group, _ in GROUPS)))
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        return "\n".join("  ".join([line[0].ljust(widths[0])]
                                   + [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])])
                         for line in lines)


_ROWS = (("turns", "turns"), ("tool_name_accuracy", "tool-name accuracy"), ("exact_match", "exact call match"),
         ("no_call_accuracy", "no-call accuracy"), ("turn_accuracy", "turn accuracy"),
         ("argument_validity", "argument validity (calls)"), ("stopped_rate", "stopped on a stop token"),
         ("parse_failures", "parse failures"))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return f"{value['hits']}/{value['total']} {100 * value['rate']:.1f}%"
    return str(value)
