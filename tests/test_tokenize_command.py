"""``toolcall tokenize`` and ``toolcall inspect`` on a folder built from the shared sources."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, load_tokenizer, requires_shared
from test_tokenize_oracle import shared_dataset_dir
from toolcall_templates.cli import main

CONFIG = "llamafactory_sharegpt_tools"
QWEN = str(SHARED / "fixtures" / "tokenizers" / "qwen2.5")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not (SHARED / "sources").is_dir():
        pytest.skip("shared sources absent")
    return shared_dataset_dir(str(tmp_path_factory.getbasetemp()))


@requires_shared
def test_tokenize_writes_the_dataset_and_a_report(built, tmp_path, capsys):
    import datasets

    from toolcall_templates.tokenization.tokenize import tokenize_conversation

    out = tmp_path / "tok"
    code = main(["tokenize", "--in", str(built), "--config", CONFIG, "--tokenizer", QWEN, "--max-length", "1024",
                 "--truncation", "prefix", "--out", str(out), "--no-progress"])
    assert code == 0
    report = json.loads((out / "tokenize_report.json").read_text())
    assert report["rows_in"] == report["rows_out"] + report["rows_dropped"] > 400
    assert report["template"] == "qwen2.5" and report["options"]["truncation"] == "prefix"
    assert report["truncated"].get("prefix", 0) > 0
    tokenized = datasets.load_from_disk(str(out))
    assert len(tokenized) == report["rows_out"]
    assert tokenized.column_names == ["id", "source", "input_ids", "attention_mask", "labels"]
    assert max(len(ids) for ids in tokenized["input_ids"]) <= 1024
    rows = datasets.load_dataset("parquet", data_files=str(built / "data" / CONFIG / "*.parquet"), split="train")
    first = next(r for r in rows if r["id"] == tokenized[0]["id"])
    expected = tokenize_conversation(first, load_tokenizer("qwen2.5"), "qwen2.5", max_length=1024, truncation="prefix")
    assert {k: tokenized[0][k] for k in expected} == expected
    assert f"{report['rows_out']}/{report['rows_in']} rows kept" in capsys.readouterr().out


@requires_shared
def test_tokenize_packs_into_parquet(built, tmp_path):
    import datasets

    out = tmp_path / "packed"
    code = main(["tokenize", "--in", str(built), "--config", CONFIG, "--tokenizer", QWEN, "--template", "qwen2.5",
                 "--max-length", "2048", "--pack", "--save-format", "parquet", "--out", str(out), "--no-progress"])
    assert code == 0
    report = json.loads((out / "tokenize_report.json").read_text())
    packed = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert len(packed) == report["packing"]["rows"] < report["rows_out"] and report["packing"]["fill"] > 0.8
    assert sum(len(r) for r in packed["seq_lengths"]) == report["rows_out"]
    assert sum(map(len, packed["input_ids"])) == report["tokens"]


@requires_shared
def test_bad_invocations_fail_with_a_message(built, tmp_path, capsys):
    base = ["tokenize", "--tokenizer", QWEN, "--out", str(tmp_path / "x")]
    assert main([*base, "--in", str(tmp_path / "missing")]) == 2
    assert "neither a dataset folder nor a file" in capsys.readouterr().err
    assert main([*base, "--in", str(built), "--config", "nope"]) == 2
    assert CONFIG in capsys.readouterr().err  # the configs that exist are listed
    assert main([*base, "--in", str(built), "--pack"]) == 2
    assert "--pack needs --max-length" in capsys.readouterr().err


@requires_shared
def test_inspect_marks_trained_tokens(built, tmp_path, capsys):
    out = tmp_path / "tok"
    assert main(["tokenize", "--in", str(built), "--config", CONFIG, "--tokenizer", QWEN, "--out", str(out),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out), "-n", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("===== #") == 2 and "trained =====" in printed
    assert "<|im_start|>assistant\n⟦" in printed and "<|im_end|>⟧" in printed
    assert "<|im_start|>user\n⟦" not in printed
    assert main(["inspect", str(out), "-n", "1", "--color", "always"]) == 0
    assert "\033[1;32m" in capsys.readouterr().out


@requires_shared
def test_inspect_tokenizes_a_built_folder_on_the_fly(built, capsys):
    assert main(["inspect", str(built), "--config", CONFIG, "--tokenizer", QWEN, "--template", "qwen2.5",
                 "-n", "1", "--start", "3"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("===== #3 id=") and "⟦" in printed
    assert main(["inspect", str(built), "--config", CONFIG]) == 2
    assert "--tokenizer" in capsys.readouterr().err
