"""Best-fit-decreasing packing: every sequence placed once, bins within max_length, position_ids per sequence."""

from __future__ import annotations

import random

import pytest

from toolcall_templates.tokenization.packing import best_fit_decreasing, pack_dataset


def reference_best_fit_decreasing(lengths: list[int], capacity: int) -> list[int]:
    """Bin loads of a plain O(n * bins) best-fit-decreasing, for comparison."""
    loads: list[int] = []
    for size in sorted(lengths, reverse=True):
        fitting = [k for k, load in enumerate(loads) if load + size <= capacity]
        if fitting:
            best = max(fitting, key=lambda k: loads[k])
            loads[best] += size
        else:
            loads.append(size)
    return sorted(loads)


@pytest.mark.parametrize("seed", range(5))
def test_bins_match_a_plain_best_fit_decreasing(seed):
    rng = random.Random(seed)
    capacity = rng.choice([16, 64, 100, 512])
    lengths = [rng.randint(1, capacity) for _ in range(rng.randint(1, 300))]
    bins = best_fit_decreasing(lengths, capacity)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    loads = [sum(lengths[i] for i in b) for b in bins]
    assert max(loads) <= capacity
    assert sorted(loads) == reference_best_fit_decreasing(lengths, capacity)
    assert len(bins) >= -(-sum(lengths) // capacity)


def test_items_are_placed_largest_first_into_the_tightest_bin():
    # 6 opens bin 0, 5 opens bin 1, 4 fits only bin 1 (space 5) or bin 0 (space 4): the tightest is bin 0
    assert best_fit_decreasing([4, 6, 5], 10) == [[1, 0], [2]]
    assert best_fit_decreasing([], 8) == []


def test_sequences_longer_than_max_length_are_refused():
    with pytest.raises(ValueError, match="longer than max_length 8"):
        best_fit_decreasing([3, 9], 8)
    with pytest.raises(ValueError, match="capacity"):
        best_fit_decreasing([1], 0)


def _dataset(rows):
    from datasets import Dataset

    return Dataset.from_list(rows)


def test_pack_dataset_keeps_every_token_and_restarts_positions():
    rng = random.Random(7)
    rows = []
    for k in range(60):
        n = rng.randint(2, 40)
        ids = [1000 * k + i for i in range(n)]
        rows.append({"input_ids": ids, "labels": [-100] * (n // 2) + ids[n // 2:], "id": str(k)})
    packed, stats = pack_dataset(_dataset(rows), 64, return_stats=True)
    assert stats.sequences == 60 and stats.bins == len(packed) and stats.first_labels_masked == 0
    assert stats.tokens == sum(len(r["input_ids"]) for r in rows) and 0.9 < stats.fill <= 1.0
    assert packed.column_names == ["input_ids", "labels", "position_ids", "seq_lengths", "attention_mask"]
    seen = {}
    for row in packed:
        assert len(row["input_ids"]) <= 64 and sum(row["seq_lengths"]) == len(row["input_ids"])
        assert row["attention_mask"] == [1] * len(row["input_ids"])
        start = 0
        for length in row["seq_lengths"]:
            assert row["position_ids"][start:start + length] == list(range(length))
            ids = row["input_ids"][start:start + length]
            seen[ids[0] // 1000] = (ids, row["labels"][start:start + length])
            start += length
    assert seen == {k: (r["input_ids"], r["labels"]) for k, r in enumerate(rows)}


def test_a_trained_first_token_is_masked_and_counted():
    rows = [{"input_ids": [1, 2, 3], "labels": [1, 2, 3]}, {"input_ids": [4, 5], "labels": [-100, 5]}]
    packed, stats = pack_dataset(_dataset(rows), 8, return_stats=True)
    assert packed[0]["labels"] == [-100, 2, 3, -100, 5] and packed[0]["position_ids"] == [0, 1, 2, 0, 1]
    assert stats.first_labels_masked == 1


def test_empty_rows_are_counted_and_missing_columns_refused():
    rows = [{"input_ids": [], "labels": []}, {"input_ids": [4, 5], "labels": [-100, 5]}]
    packed, stats = pack_dataset(_dataset(rows), 8, return_stats=True)
    assert len(packed) == 1 and stats.empty_rows == 1
    with pytest.raises(ValueError, match="labels"):
        pack_dataset(_dataset([{"input_ids": [1]}]), 8)
    with pytest.raises(ValueError, match="differ in length"):
        pack_dataset(_dataset([{"input_ids": [1, 2], "labels": [1]}]), 8)
