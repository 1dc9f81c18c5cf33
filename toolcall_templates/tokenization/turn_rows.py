"""Training rows from each turn's prompt ids and generated ids: one row where that is exact, several where it is not.

A row may hold several turns only when, for each of them, the row starts with that turn's prompt ids followed by its
generated ids: then the row, token for token, is what the model was given and generated at every turn. Turns are taken
in order; a turn joins the current row when its prompt ids start with the row so far (the previous turn's prompt and
generated ids), and starts a new row, with its own inference context, otherwise. Templates that render history
differently from what the model saw (earlier reasoning dropped, a stop token rewritten in history) or tokenizations
that merge characters across a turn's boundaries in the longer text therefore split there, and only there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

IGNORE_INDEX = -100


@dataclass
class TurnRow:
    """One training row: ids, labels on the generated ids of its turns, and where each of those turns ends."""

    input_ids: np.ndarray
    labels: np.ndarray
    turn_ends: list[int] = field(default_factory=list)
    turns: list[int] = field(default_factory=list)
    """Message indices of the turns trained in this row."""


@dataclass
class EncodedTurn:
    index: int
    """Message index of the assistant turn."""
    prompt: np.ndarray
    generated: np.ndarray


def chained_rows(turns: Sequence[EncodedTurn], tail: np.ndarray | None = None) -> list[TurnRow]:
    """The fewest rows, in order, each holding consecutive turns exactly; ``tail`` (untrained ids after the final
    turn) is appended to the last row."""
    rows: list[TurnRow] = []
    ids: np.ndarray | None = None
    parts: list[np.ndarray] = []
    ends: list[int] = []
    indices: list[int] = []
    for turn in turns:
        if ids is not None and _starts_with(turn.prompt, ids):
            parts.append(_ignored(len(turn.prompt) - len(ids)))
        else:
            if ids is not None:
                rows.append(_row(ids, parts, ends, indices))
            parts, ends, indices = [_ignored(len(turn.prompt))], [], []
        ids = np.concatenate([turn.prompt, turn.generated]).astype(np.int32, copy=False)
        parts.append(turn.generated.astype(np.int32, copy=False))
        ends.append(len(ids))
        indices.append(turn.index)
    if ids is None:
        return rows
    if tail is not None and len(tail):
        ids = np.concatenate([ids, tail]).astype(np.int32, copy=False)
        parts.append(_ignored(len(tail)))
    rows.append(_row(ids, parts, ends, indices))
    return rows


def _starts_with(ids: np.ndarray, prefix: np.ndarray) -> bool:
    return len(ids) >= len(prefix) and np.array_equal(ids[:len(prefix)], prefix)


def _ignored(count: int) -> np.ndarray:
    return np.full(count, IGNORE_INDEX, dtype=np.int32)


def _row(ids: np.ndarray, parts: list[np.ndarray], ends: list[int], indices: list[int]) -> TurnRow:
    return TurnRow(ids, np.concatenate(parts), list(ends), list(indices))
