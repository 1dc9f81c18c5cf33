"""End to end on CPU: a tiny random Qwen2 model with the real Qwen2.5 vocabulary trains on our tokenized tool-calling
data through ``transformers.Trainer`` and TRL ``SFTTrainer`` with ``ToolCallCollator``; padded, padding-free and
packed batches of the same rows give the same loss."""

from __future__ import annotations

import json

import pytest

from conftest import load_tokenizer, shared_path

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

MAX_LENGTH = 256


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("qwen2.5")


@pytest.fixture(scope="module")
def train_dataset(tokenizer):
    from datasets import Dataset

    from toolcall_templates.normalize import normalize
    from toolcall_templates.schema import features
    from toolcall_templates.tokenization.tokenize import tokenize_dataset

    path = shared_path("sources", "llamafactory_sharegpt_tools", "glaive_toolcall_en_demo.json")
    rows = [normalize(record, source="glaive") for record in json.loads(path.read_text(encoding="utf-8"))[:64]]
    dataset, report = tokenize_dataset(Dataset.from_list(rows, features=features()), tokenizer, "qwen2.5",
                                       max_length=MAX_LENGTH, truncation="prefix", return_report=True, desc=None)
    assert report.rows_in == 64 and len(dataset) >= 12, report.to_dict()
    assert report.truncated["prefix"] > 0  # long conversations cut only after an assistant stop token
    shortest = dataset.select(sorted(range(len(dataset)), key=lambda i: len(dataset[i]["input_ids"]))[:12])
    calls = tokenizer.convert_tokens_to_ids("<tool_call>")
    assert any(calls in [t for t, label in zip(r["input_ids"], r["labels"]) if label != -100] for r in shortest)
    return shortest


def tiny_model(tokenizer, seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
    )
    return transformers.Qwen2ForCausalLM(config)


TRAIN = dict(per_device_train_batch_size=1, max_steps=10, learning_rate=3e-2, logging_steps=1, report_to=[],
             save_strategy="no", use_cpu=True, seed=0, disable_tqdm=True)
_losses: dict[str, list[float]] = {}


def training_losses(trainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def assert_loss_decreases(losses: list[float]) -> None:
    assert len(losses) == TRAIN["max_steps"] and all(loss == loss for loss in losses), losses
    assert sum(losses[-3:]) / 3 < 0.9 * sum(losses[:3]) / 3, losses


def test_trainer_with_our_collator_learns(tokenizer, train_dataset, tmp_path):
    from toolcall_templates.tokenization.collator import ToolCallCollator

    args = transformers.TrainingArguments(output_dir=str(tmp_path), **TRAIN)
    trainer = transformers.Trainer(model=tiny_model(tokenizer), args=args, train_dataset=train_dataset,
                                   data_collator=ToolCallCollator(tokenizer))
    trainer.train()
    _losses["trainer"] = training_losses(trainer)
    assert_loss_decreases(_losses["trainer"])


def test_trl_sft_trainer_accepts_the_pretokenized_dataset(tokenizer, train_dataset, tmp_path):
    trl = pytest.importorskip("trl")
    from toolcall_templates.tokenization.collator import ToolCallCollator

    args = trl.SFTConfig(output_dir=str(tmp_path), max_length=MAX_LENGTH, **TRAIN)
    trainer = trl.SFTTrainer(model=tiny_model(tokenizer), args=args, train_dataset=train_dataset,
                             processing_class=tokenizer, data_collator=ToolCallCollator(tokenizer))
    trainer.train()
    losses = training_losses(trainer)
    assert_loss_decreases(losses)
    if "trainer" in _losses:  # same model, data, order and labels: TRL trains on exactly what Trainer does
        assert all(abs(a - b) < 0.1 for a, b in zip(losses, _losses["trainer"])), (losses, _losses["trainer"])


def test_padded_padding_free_and_packed_batches_give_the_same_loss(tokenizer, train_dataset):
    from toolcall_templates.tokenization.collator import ToolCallCollator
    from toolcall_templates.tokenization.packing import pack_dataset

    model = tiny_model(tokenizer, seed=1).eval()
    rows = [train_dataset[i] for i in range(3)]
    lengths = [len(row["input_ids"]) for row in rows]
    packed = pack_dataset(train_dataset.select(range(3)), 3 * MAX_LENGTH)[0]
    assert sorted(packed["seq_lengths"]) == sorted(lengths)
    padded_batch = ToolCallCollator(tokenizer)(rows)
    flat_batch = ToolCallCollator(tokenizer, padding_free=True)(rows)
    with torch.no_grad():
        padded = model(**padded_batch)
        flat = model(**flat_batch)
        packed_flat = model(**ToolCallCollator(tokenizer, padding_free=True)([packed])).loss
        packed_padded = model(**ToolCallCollator(tokenizer)([packed, rows[0]])).loss
        reference = model(**ToolCallCollator(tokenizer)(rows + [rows[0]])).loss
    assert torch.isfinite(padded.loss)
    assert torch.allclose(padded.loss, flat.loss, rtol=1e-5), (padded.loss, flat.loss)
    assert torch.allclose(padded.loss, packed_flat, rtol=1e-5), (padded.loss, packed_flat)
    assert torch.allclose(reference, packed_padded, rtol=1e-5), (reference, packed_padded)
    # the same logits token for token, not just the same mean
    start = 0
    for k, length in enumerate(lengths):
        assert torch.allclose(flat.logits[0, start:start + length], padded.logits[k, :length], atol=1e-4)
        start += length


def test_packed_conversations_do_not_attend_to_each_other(tokenizer, train_dataset):
    from toolcall_templates.tokenization.collator import ToolCallCollator
    from toolcall_templates.tokenization.packing import pack_dataset

    model = tiny_model(tokenizer, seed=1).train()  # config.use_cache is True, as in a plain Trainer run
    packed = pack_dataset(train_dataset.select(range(2)), 2 * MAX_LENGTH)[0]
    start, length = packed["seq_lengths"]
    second = packed["input_ids"][start:start + length]
    with torch.no_grad():
        alone = model(input_ids=torch.tensor([second])).logits[0]
        isolated = model(**ToolCallCollator(tokenizer, padding_free=True)([packed])).logits[0, start:]
        leaky = model(input_ids=torch.tensor([packed["input_ids"]])).logits[0, start:]
    assert torch.allclose(isolated, alone, atol=1e-4)
    assert not torch.allclose(leaky, alone, atol=1e-4)  # the check can tell: plain concatenation leaks
