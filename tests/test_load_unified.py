"""``load_unified`` gives a plain ``datasets.Dataset`` (no transform) with exact values, which TRL's ``SFTTrainer``
accepts as it is (issue 9, point 1, first bullet)."""

from __future__ import annotations

import json

import pytest

from conftest import load_tokenizer, run_toolcall
from test_exact_values import TRICKY, tricky_record


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A folder built by the ``toolcall build`` CLI from an OpenAI record (arguments as a JSON string)."""
    folder = tmp_path_factory.mktemp("unified")
    (folder / "calls.jsonl").write_text(json.dumps(tricky_record()) + "\n", encoding="utf-8")
    result = run_toolcall("build", "--source", f"calls={folder / 'calls.jsonl'}", "--out", folder / "built")
    assert result.returncode == 0, result.stderr
    return folder / "built"


def test_load_unified_is_a_plain_dataset_with_exact_values(built):
    from datasets import Dataset

    from toolcall_templates import load_unified

    dataset = load_unified(str(built), "calls")
    assert isinstance(dataset, Dataset) and dataset.format["type"] is None  # no transform, no custom format
    row = dataset[0]
    assert json.dumps(row["messages"][1]["tool_calls"][0]["function"]["arguments"]) == json.dumps(TRICKY)
    assert repr(row["tools"][0]["function"]["parameters"]["properties"]["epsilon"]["default"]) == "8.854e-12"
    copy = dataset.map(lambda r: {"meta": {**r["meta"], "checked": True}}).select([0]).flatten_indices()
    assert copy[0]["messages"] == row["messages"] and copy[0]["meta"]["checked"] is True


def test_plain_load_dataset_of_the_built_folder_is_exact_too(built):
    from datasets import load_dataset

    row = load_dataset(str(built), split="train")[0]
    assert json.dumps(row["messages"][1]["tool_calls"][0]["function"]["arguments"]) == json.dumps(TRICKY)


def test_sft_trainer_takes_load_unified_as_it_is_and_trains_on_the_exact_digits(built, tmp_path):
    trl = pytest.importorskip("trl")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from toolcall_templates import load_unified

    tokenizer = load_tokenizer("qwen2.5")  # the official Qwen2.5 template: renders arguments with tojson
    config = transformers.Qwen2Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
    args = trl.SFTConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=1, report_to=[],
                         use_cpu=True, save_strategy="no", disable_tqdm=True)
    trainer = trl.SFTTrainer(model=transformers.Qwen2ForCausalLM(config), args=args,
                             train_dataset=load_unified(str(built)), processing_class=tokenizer)
    text = tokenizer.decode(trainer.train_dataset[0]["input_ids"])
    assert json.dumps(TRICKY, ensure_ascii=False) in text  # 8.854e-12, 0.3, -0.0, 5e-324, 10 and 10.0, 2**70, ...
    assert "0.30000000000000004" not in text
