"""What a trainer really feeds the model: every batch recorded by a forward pre-hook, cut back into conversations.

Tests of the training paths compare these conversations (``input_ids`` and ``labels`` as the model received them,
after the trainer's dataset preparation, collator and packing) with the rows ``tokenize_dataset`` gives.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

RECORDED = ("input_ids", "labels", "position_ids", "attention_mask")


class FedBatches:
    """Records the tensors of every forward call of ``model`` (``Trainer`` and ``SFTTrainer`` call it with
    keyword arguments)."""

    def __init__(self, model: Any):
        self.batches: list[dict[str, Any]] = []
        model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, _module: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        self.batches.append({key: kwargs[key].detach().clone() for key in RECORDED if key in kwargs
                             and kwargs[key] is not None})

    def conversations(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """``(input_ids, labels)`` of every conversation of every batch: a padded row up to its attention mask, a
        padding-free or packed row cut where its ``position_ids`` restart."""
        found = []
        for batch in self.batches:
            ids, labels = batch["input_ids"].tolist(), batch["labels"].tolist()
            for k, row in enumerate(ids):
                if "position_ids" in batch and "attention_mask" not in batch:
                    positions = batch["position_ids"][k].tolist()
                    starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
                    spans = list(zip(starts, starts[1:]))
                else:
                    spans = [(0, int(batch["attention_mask"][k].sum()))]
                found += [(tuple(row[a:b]), tuple(labels[k][a:b])) for a, b in spans]
        return found


def expected_conversations(tokenized: Any) -> Counter:
    """The rows of a ``tokenize_dataset`` result as the model must receive them (a multiset)."""
    rows = Counter()
    for row in tokenized:
        assert row["labels"][0] == -100, "a row's first token is template text, never trained"
        rows[(tuple(row["input_ids"]), tuple(row["labels"]))] += 1
    return rows
