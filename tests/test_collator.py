"""ToolCallCollator: padded and padding-free batches, safe pad ids, packed rows kept apart, torch imported lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import load_tokenizer
from toolcall_templates.tokenization.collator import ToolCallCollator, safe_pad_token_id

torch = pytest.importorskip("torch")

FEATURES = [
    {"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
    {"input_ids": [8, 9, 10, 11, 12], "labels": [-100, -100, 10, 11, 12], "attention_mask": [1] * 5},
]


def test_padded_batch_pads_ids_labels_and_mask_to_a_multiple():
    batch = ToolCallCollator(pad_token_id=0, pad_to_multiple_of=8)(FEATURES)
    assert set(batch) == {"input_ids", "labels", "attention_mask"}
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0, 0, 0, 0, 0], [8, 9, 10, 11, 12, 0, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7] + [-100] * 5, [-100, -100, 10, 11, 12] + [-100] * 3]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0, 0, 0, 0], [1] * 5 + [0] * 3]
    assert batch["input_ids"].dtype == torch.long
    assert ToolCallCollator(pad_token_id=0, pad_to_multiple_of=None)(FEATURES)["input_ids"].shape == (2, 5)


def test_padding_free_concatenates_with_position_ids_and_no_padding():
    batch = ToolCallCollator(pad_token_id=0, padding_free=True, return_flash_attn_kwargs=True)(
        [{"input_ids": [5, 6, 7], "labels": [5, 6, 7]}, FEATURES[1]]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10, 11, 12]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 3, 4]]
    assert batch["labels"].tolist() == [[-100, 6, 7, -100, -100, 10, 11, 12]]  # a start is never a target
    assert "attention_mask" not in batch and (batch["input_ids"] != 0).all()
    assert batch["use_cache"] is False  # transformers builds the per-conversation mask only without a KV cache
    assert batch["cu_seq_lens_q"].tolist() == [0, 3, 8] and batch["max_length_q"] == 5


def test_packed_rows_keep_their_conversations_apart():
    packed = {"input_ids": [1, 2, 3, 4, 5], "labels": [-100, 2, -100, 4, 5], "seq_lengths": [2, 3]}
    padded = ToolCallCollator(pad_token_id=0, pad_to_multiple_of=4)([packed, FEATURES[0]])
    assert "attention_mask" not in padded  # a 2-D mask would let packed conversations see each other
    assert padded["use_cache"] is False
    assert padded["position_ids"].tolist() == [[0, 1, 0, 1, 2, 0, 1, 2], [0, 1, 2, 0, 1, 2, 3, 4]]
    from_positions = ToolCallCollator(pad_token_id=0, padding_free=True)(
        [{"input_ids": [1, 2, 3, 4, 5], "labels": [1, 2, 3, 4, 5], "position_ids": [0, 1, 0, 1, 2]}]
    )
    assert from_positions["labels"].tolist() == [[-100, 2, -100, 4, 5]]


def test_safe_pad_token_for_tokenizers_without_one():
    llama = load_tokenizer("llama3.1")
    assert llama.pad_token_id is None
    pad = safe_pad_token_id(llama)
    assert llama.convert_ids_to_tokens(pad) == "<|finetune_right_pad_id|>"
    assert ToolCallCollator(llama).pad_token_id == pad
    qwen = load_tokenizer("qwen2.5")
    assert safe_pad_token_id(qwen) == qwen.pad_token_id


def test_bad_batches_are_refused_with_a_reason():
    collator = ToolCallCollator(pad_token_id=0)
    with pytest.raises(ValueError, match="empty batch"):
        collator([])
    with pytest.raises(ValueError, match="no 'input_ids'"):
        collator([{"labels": [1]}])
    with pytest.raises(ValueError, match="2 labels for 3"):
        collator([{"input_ids": [1, 2, 3], "labels": [1, 2]}])
    with pytest.raises(ValueError, match="do not cover"):
        collator([{"input_ids": [1, 2, 3], "labels": [1, 2, 3], "seq_lengths": [2]}])
    with pytest.raises(ValueError, match="pad_token_id"):
        ToolCallCollator()


def test_tensors_and_missing_labels_are_accepted():
    batch = ToolCallCollator(pad_token_id=0, pad_to_multiple_of=None)([{"input_ids": torch.tensor([3, 4])}])
    assert batch["labels"].tolist() == [[3, 4]]


def test_importing_the_package_does_not_import_torch():
    code = ("import sys; import toolcall_templates.tokenization.collator, toolcall_templates.tokenization.tokenize, "
            "toolcall_templates.tokenization.packing; print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
