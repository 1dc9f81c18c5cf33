"""Best-fit-decreasing packing of tokenized conversations into ``max_length`` bins.

Each packed row holds whole conversations back to back, with ``position_ids`` that restart at 0 at every
conversation and ``seq_lengths`` listing them, so that transformers' padding-free / flash-attention varlen path (and
:class:`~toolcall_templates.tokenization.collator.ToolCallCollator`) keeps every conversation from attending to another. The
label of each conversation's first token is set to ``-100``: in a packed row the token before it belongs to another
conversation and must not be trained to predict it. A conversation's first token is template text, so no trained
label is lost in practice; any that would be is counted (``PackingStats.first_labels_masked``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any, Sequence

IGNORE_INDEX = -100


@dataclass
class PackingStats:
    sequences: int
    bins: int
    tokens: int
    capacity: int
    first_labels_masked: int
    """Conversations whose first token had a trained label, masked because it starts a packed segment."""
    empty_rows: int = 0
    """Rows with no tokens at all (nothing to pack)."""

    @property
    def fill(self) -> float:
        """Share of the bins' capacity holding real tokens."""
        return self.tokens / self.capacity if self.capacity else 0.0

    def add(self, other: "PackingStats") -> "PackingStats":
        """Count ``other`` in too (streaming packs buffer by buffer)."""
        self.sequences += other.sequences
        self.bins += other.bins
        self.tokens += other.tokens
        self.capacity += other.capacity
        self.first_labels_masked += other.first_labels_masked
        self.empty_rows += other.empty_rows
        return self

    def report(self) -> dict[str, Any]:
        """The ``packing`` entry of a ``TokenizeReport``."""
        return {"rows": self.bins, "fill": round(self.fill, 4), "first_labels_masked": self.first_labels_masked}


def best_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Bins of item indices: items by decreasing length, each into the fullest bin that still fits it.

    Bins are returned in the order they were opened; the result is deterministic. O(n log capacity).
    """
    if capacity < 1:
        raise ValueError(f"capacity must be positive, got {capacity}")
    too_long = [i for i, n in enumerate(lengths) if n > capacity]
    if too_long:
        raise ValueError(f"{len(too_long)} sequences are longer than max_length {capacity} (e.g. item {too_long[0]} "
                         f"with {lengths[too_long[0]]} tokens); tokenize with max_length={capacity} first")
    bins: list[list[int]] = []
    free = _FreeSpace(capacity)
    for item in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        size = lengths[item]
        found = free.take_tightest(size)
        if found is None:
            bins.append([item])
            free.put(capacity - size, len(bins) - 1)
        else:
            space, index = found
            bins[index].append(item)
            free.put(space - size, index)
    return bins


class _FreeSpace:
    """Open bins by free space; a count tree over the space values finds the tightest fit in O(log capacity)."""

    def __init__(self, capacity: int):
        self.leaves = 1
        while self.leaves < capacity + 1:
            self.leaves *= 2
        self.count = [0] * (2 * self.leaves)
        self.bins: dict[int, list[int]] = {}

    def put(self, space: int, index: int) -> None:
        if space > 0:
            self.bins.setdefault(space, []).append(index)
            self._add(space, 1)

    def take_tightest(self, need: int) -> tuple[int, int] | None:
        """Remove and return ``(space, bin)`` with the smallest free space >= need, or None."""
        space = self._first_at_least(need)
        if space is None:
            return None
        stack = self.bins[space]
        index = stack.pop()
        if not stack:
            del self.bins[space]
        self._add(space, -1)
        return space, index

    def _add(self, space: int, delta: int) -> None:
        node = space + self.leaves
        while node:
            self.count[node] += delta
            node //= 2

    def _first_at_least(self, need: int) -> int | None:
        node = need + self.leaves
        if self.count[node]:
            return need
        while node > 1:  # climb until a right sibling (larger spaces) holds a bin
            if node % 2 == 0 and self.count[node + 1]:
                node += 1
                break
            node //= 2
        else:
            return None
        while node < self.leaves:  # then descend to its smallest non-empty leaf
            node = 2 * node if self.count[2 * node] else 2 * node + 1
        return node - self.leaves


def pack_dataset(dataset: Any, max_length: int, *, return_stats: bool = False) -> Any:
    """Pack a tokenized ``datasets.Dataset`` (``input_ids``, ``labels``) into rows of at most ``max_length`` tokens.

    The result has ``input_ids``, ``labels``, ``attention_mask`` (all ones: padding is the collator's job),
    ``position_ids`` (restarting at every conversation) and ``seq_lengths``; other columns are dropped. Arrow and
    numpy do the concatenation, so memory stays at the size of the token columns.
    """
    from datasets import Dataset

    for column in ("input_ids", "labels"):
        if column not in dataset.column_names:
            raise ValueError(f"pack_dataset needs a {column!r} column; got {dataset.column_names}")
    packed, stats = pack_table(dataset.select_columns(["input_ids", "labels"]).with_format("arrow")[:], max_length)
    result = Dataset(packed)
    return (result, stats) if return_stats else result


def pack_table(table: Any, max_length: int) -> tuple[Any, PackingStats]:
    """Pack the rows of an Arrow table (``input_ids``, ``labels``) into bins of at most ``max_length`` tokens: the
    packed table (the columns of :func:`pack_dataset`) and its statistics. Streaming packs one buffer at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ids_column = table.column("input_ids").combine_chunks()
    labels_column = table.column("labels").combine_chunks()
    lengths = pc.list_value_length(ids_column).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    if not np.array_equal(lengths, pc.list_value_length(labels_column).fill_null(0).to_numpy(zero_copy_only=False)):
        raise ValueError("input_ids and labels differ in length in some rows")
    present = np.flatnonzero(lengths > 0)
    bins = best_fit_decreasing(lengths[present].tolist(), max_length)
    order = present[np.fromiter(chain.from_iterable(bins), dtype=np.int64, count=len(present))]

    seq_lengths = lengths[order]
    flat_ids = pc.list_flatten(ids_column.take(pa.array(order))).to_numpy(zero_copy_only=False).astype(np.int32)
    flat_labels = pc.list_flatten(labels_column.take(pa.array(order))).to_numpy(zero_copy_only=False).astype(np.int32)
    seq_starts = np.cumsum(seq_lengths) - seq_lengths
    masked = int(np.count_nonzero(flat_labels[seq_starts] != IGNORE_INDEX))
    flat_labels[seq_starts] = IGNORE_INDEX
    positions = (np.arange(len(flat_ids), dtype=np.int64) - np.repeat(seq_starts, seq_lengths)).astype(np.int32)

    bin_sizes = np.array([len(b) for b in bins], dtype=np.int64)
    bin_item_offsets = np.concatenate([[0], np.cumsum(bin_sizes)]).astype(np.int32)
    bin_tokens = np.add.reduceat(seq_lengths, bin_item_offsets[:-1]) if len(bins) else np.array([], dtype=np.int64)
    token_offsets = pa.array(np.concatenate([[0], np.cumsum(bin_tokens)]).astype(np.int32))

    def as_lists(values: Any, offsets: Any = token_offsets) -> Any:
        return pa.ListArray.from_arrays(offsets, pa.array(values))

    packed = pa.table({
        "input_ids": as_lists(flat_ids),
        "labels": as_lists(flat_labels),
        "position_ids": as_lists(positions),
        "seq_lengths": as_lists(seq_lengths.astype(np.int32), pa.array(bin_item_offsets)),
        "attention_mask": as_lists(np.ones(len(flat_ids), dtype=np.int8)),
    })
    stats = PackingStats(len(present), len(bins), int(seq_lengths.sum()), len(bins) * max_length, masked,
                         empty_rows=int(len(lengths) - len(present)))
    return packed, stats
