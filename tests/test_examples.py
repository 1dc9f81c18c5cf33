"""The example scripts run as a user runs them: ``python examples/train_*.py`` on a dataset folder built with a
held-out split by ``toolcall build --test-fraction``, a tiny Qwen2 model (real Qwen2.5 vocabulary) for two steps on
CPU, each batching, then the evaluation of the held-out split; the saved model loads in ``toolcall eval``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, load_tokenizer, run_toolcall
from tiny_models import built_demo_dataset, save, tiny_qwen2

torch = pytest.importorskip("torch")
pytest.importorskip("trl")


PICK = (8, 48, 21, 36, 13, 43, 20, 28, 27, 55, 50, 49)
"""Short Glaive demo conversations, each declaring tools (whichever land in the held-out split have turns to score)."""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("examples")
    built_demo_dataset(root, PICK, "--test-fraction", "0.3")
    assert held_out_rows(root) > 0
    save(tiny_qwen2(load_tokenizer("qwen2.5"), hidden=16, tie=True), load_tokenizer("qwen2.5"), root / "base")
    return root


def held_out_rows(workspace) -> int:
    from datasets import load_dataset

    return len(load_dataset(str(workspace / "dataset"), split="test"))


@pytest.mark.parametrize("script, options", [
    ("train_trainer.py", ["--batching", "packed"]),
    ("train_sft.py", ["--batching", "padding-free"]),
    ("train_sft.py", ["--batching", "padded", "--lora", "--lora-r", "4"]),
], ids=["trainer-packed", "sft-padding-free", "sft-lora-padded"])
def test_an_example_trains_saves_and_evaluates_the_held_out_split(workspace, script, options):
    from transformers import AutoModelForCausalLM

    out = workspace / f"{script}-{options[1]}{'-lora' if '--lora' in options else ''}"
    command = [sys.executable, str(REPO_ROOT / "examples" / script), "--data", str(workspace / "dataset"),
               "--model", str(workspace / "base"), "--out", str(out), "--max-steps", "2", "--batch-size", "1",
               "--max-length", "512", "--lr", "1e-3", "--device", "cpu", "--eval-max-new-tokens", "4", *options]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["batching"] == options[1] and metrics["tokens"] > 0
    assert metrics["tokens_per_second"] > 0 and "tokens/s" in result.stdout
    report = json.loads((out / "eval_report.json").read_text())
    assert report["split"] == "test" and report["counts"]["rows_in"] == held_out_rows(workspace)
    assert report["template"] == "qwen2.5" and report["counts"]["turns_scored"] > 0
    assert "exact call match" in result.stdout
    trained = AutoModelForCausalLM.from_pretrained(str(out))
    base = AutoModelForCausalLM.from_pretrained(str(workspace / "base"))
    changed = [name for name, weight in trained.state_dict().items()
               if not torch.equal(weight, base.state_dict()[name])]
    assert changed and not any("lora" in name for name in trained.state_dict())
    if "--lora" in options:
        assert (out / "adapter" / "adapter_config.json").is_file()
        assert all("embed" not in name for name in changed)  # only the adapted linear layers moved
        again = run_toolcall("eval", "--in", workspace / "dataset", "--model", out, "--max-new-tokens", "4",
                             "--limit", "1", "--no-progress")
        assert again.returncode == 0, again.stderr


def test_an_example_refuses_a_folder_it_did_not_write(workspace):
    foreign = workspace / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / "train_trainer.py"), "--data",
                             str(workspace / "dataset"), "--model", str(workspace / "base"), "--out", str(foreign)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "was not written by this script" in result.stderr
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
