"""A data collator for ``transformers.Trainer`` and TRL ``SFTTrainer``: padded or padding-free batches.

* Padded (default): ``input_ids`` padded with the pad id (a safe one is chosen when the tokenizer has none),
  ``labels`` with ``-100``, and an ``attention_mask``, to a multiple of ``pad_to_multiple_of``.
* Padding-free (``padding_free=True``): the batch is concatenated into one row with ``position_ids`` restarting at
  every conversation and no padding at all; the label of each conversation's first token is ``-100``, so no
  conversation is trained to predict another's start. transformers then keeps the conversations apart (its
  flash-attention varlen path, or a block-diagonal mask built from ``position_ids`` for the other attention kernels).

Packed rows (several conversations, with ``position_ids`` or TRL's ``seq_lengths``) are kept apart the same way: a
padded batch of packed rows carries ``position_ids`` (padding counted as a conversation of its own) and no
``attention_mask``, since a 2-D mask would let the conversations of one row attend to each other.

Such batches also carry ``use_cache=False``: transformers only derives the per-conversation mask from
``position_ids`` when no KV cache is built, and a model whose config says ``use_cache=True`` builds one even in
training under a plain ``Trainer`` (TRL's ``SFTTrainer`` sets it too); without it the conversations would silently
attend to each other.

Under TRL's ``SFTTrainer``, ``SFTConfig(padding_free=True)`` and ``packing=True`` refuse any ``data_collator``:
pass none there, since TRL's own ``DataCollatorForLanguageModeling`` builds these same batches from tokenized rows
(``position_ids`` from ``seq_lengths``, each conversation's first label ``-100``). This collator, with
``padding_free=True``, may also be passed to an ``SFTTrainer`` whose config leaves ``padding_free`` off.

torch is imported only when a batch is built, so the rest of the package works without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

IGNORE_INDEX = -100


def safe_pad_token_id(tokenizer: Any) -> int:
    """The tokenizer's pad id; else a special token meant for padding (Llama 3's ``<|finetune_right_pad_id|>``),
    else an unused reserved special token, else eos. Padded positions are masked, so any of them is safe."""
    if getattr(tokenizer, "pad_token_id", None) is not None:
        return int(tokenizer.pad_token_id)
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    for wanted in ("pad", "reserved"):
        for token_id, token in sorted(added.items()):
            if token.special and wanted in token.content.lower():
                return int(token_id)
    if getattr(tokenizer, "eos_token_id", None) is not None:
        return int(tokenizer.eos_token_id)
    raise ValueError("the tokenizer has no pad, reserved or eos token; pass pad_token_id=")


class ToolCallCollator:
    """Collate tokenized rows (``input_ids``, ``labels``; optional ``position_ids`` / ``seq_lengths``) to tensors."""

    def __init__(self, tokenizer: Any = None, pad_to_multiple_of: int | None = 8, padding_free: bool = False,
                 *, pad_token_id: int | None = None, return_flash_attn_kwargs: bool = False):
        if tokenizer is None and pad_token_id is None:
            raise ValueError("pass a tokenizer or pad_token_id")
        self.tokenizer = tokenizer
        self.pad_token_id = pad_token_id if pad_token_id is not None else safe_pad_token_id(tokenizer)
        self.pad_to_multiple_of = pad_to_multiple_of
        self.padding_free = padding_free
        self.return_flash_attn_kwargs = return_flash_attn_kwargs

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        if not features:
            raise ValueError("cannot collate an empty batch")
        rows = [_row(feature, k) for k, feature in enumerate(features)]
        if self.padding_free:
            return self._flattened(rows, torch)
        return self._padded(rows, torch)

    def _padded(self, rows: list[dict[str, list[int]]], torch: Any) -> dict[str, Any]:
        width = _round_up(max(len(r["input_ids"]) for r in rows), self.pad_to_multiple_of)
        packed = any(len(r["seq_lengths"]) > 1 for r in rows)
        ids, labels, mask, positions = [], [], [], []
        for row in rows:
            pad = width - len(row["input_ids"])
            ids.append(row["input_ids"] + [self.pad_token_id] * pad)
            labels.append(row["labels"] + [IGNORE_INDEX] * pad)
            mask.append([1] * len(row["input_ids"]) + [0] * pad)
            positions.append(row["position_ids"] + list(range(pad)))
        batch = {"input_ids": torch.tensor(ids, dtype=torch.long), "labels": torch.tensor(labels, dtype=torch.long)}
        if packed:
            batch["position_ids"] = torch.tensor(positions, dtype=torch.long)
            batch["use_cache"] = False
        else:
            batch["attention_mask"] = torch.tensor(mask, dtype=torch.long)
        return batch

    def _flattened(self, rows: list[dict[str, list[int]]], torch: Any) -> dict[str, Any]:
        ids = [token for row in rows for token in row["input_ids"]]
        labels = [label for row in rows for label in row["labels"]]
        positions = [p for row in rows for p in row["position_ids"]]
        lengths = [n for row in rows for n in row["seq_lengths"]]
        start = 0
        for length in lengths:  # no conversation learns to predict the start of the next one
            labels[start] = IGNORE_INDEX
            start += length
        batch = {
            "input_ids": torch.tensor([ids], dtype=torch.long),
            "labels": torch.tensor([labels], dtype=torch.long),
            "position_ids": torch.tensor([positions], dtype=torch.long),
            "use_cache": False,
        }
        if self.return_flash_attn_kwargs:
            cumulative = torch.tensor([0, *lengths], dtype=torch.int32).cumsum(0, dtype=torch.int32)
            batch.update(cu_seq_lens_q=cumulative, cu_seq_lens_k=cumulative,
                         max_length_q=max(lengths), max_length_k=max(lengths))
        return batch


def _row(feature: Mapping[str, Any], k: int) -> dict[str, list[int]]:
    """Plain-list view of one feature, with ``position_ids`` and ``seq_lengths`` filled in."""
    if not isinstance(feature, Mapping) or "input_ids" not in feature:
        raise ValueError(f"batch item {k} has no 'input_ids'")
    ids = _as_list(feature["input_ids"])
    if not ids:
        raise ValueError(f"batch item {k} has no tokens")
    labels = _as_list(feature["labels"]) if feature.get("labels") is not None else list(ids)
    if len(labels) != len(ids):
        raise ValueError(f"batch item {k}: {len(labels)} labels for {len(ids)} input_ids")
    positions = _as_list(feature["position_ids"]) if feature.get("position_ids") is not None else None
    lengths = _as_list(feature["seq_lengths"]) if feature.get("seq_lengths") is not None else None
    if positions is None:
        lengths = lengths or [len(ids)]
        positions = [p for n in lengths for p in range(n)]
    elif lengths is None:
        starts = [i for i, p in enumerate(positions) if p == 0] or [0]
        lengths = [b - a for a, b in zip(starts, [*starts[1:], len(ids)])]
    if sum(lengths) != len(ids) or len(positions) != len(ids):
        raise ValueError(f"batch item {k}: seq_lengths / position_ids do not cover its {len(ids)} tokens")
    return {"input_ids": ids, "labels": labels, "position_ids": positions, "seq_lengths": lengths}


def _as_list(value: Any) -> list[int]:
    if hasattr(value, "tolist"):  # tensors, numpy arrays
        return value.tolist()
    return value if isinstance(value, list) else list(value)


def _round_up(length: int, multiple: int | None) -> int:
    if not multiple:
        return length
    return -(-length // multiple) * multiple
