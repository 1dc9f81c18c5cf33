"""``toolcall eval`` end to end on CPU: a dataset built by ``toolcall build``, a tiny Qwen2 model (real Qwen2.5
vocabulary) that memorized its conversations, and the same model untrained; the scores tell them apart."""

from __future__ import annotations

import json

import pytest

from conftest import load_tokenizer, run_toolcall
from tiny_models import built_demo_dataset, overfit, save, tiny_qwen2

pytest.importorskip("torch")

PICK = (8, 48, 21, 36, 13, 43)
"""Short Glaive demo conversations: five calls (one of them after a question back to the user), seven answers."""
MAX_NEW_TOKENS = "64"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A built dataset folder, a model trained on its rows, and an untrained one."""
    from datasets import load_dataset

    from toolcall_templates import tokenize_dataset

    root = tmp_path_factory.mktemp("eval-e2e")
    dataset = built_demo_dataset(root, PICK)
    tokenizer = load_tokenizer("qwen2.5")
    tokenized = tokenize_dataset(load_dataset(str(dataset), split="train"), tokenizer, "qwen2.5", desc=None)
    model = tiny_qwen2(tokenizer)
    steps, loss = overfit(model, tokenized, tokenizer)
    assert loss < 0.01, (steps, loss)
    save(model, tokenizer, root / "trained")
    save(tiny_qwen2(tokenizer, seed=1), tokenizer, root / "untrained")
    return root


def evaluate_cli(workspace, model, *extra):
    report = workspace / f"{model}.json"
    result = run_toolcall("eval", "--in", workspace / "dataset", "--split", "train", "--model", workspace / model,
                          "--max-new-tokens", MAX_NEW_TOKENS, "--batch-size", "4", "--out", report, *extra)
    assert result.returncode == 0, result.stderr
    return result, json.loads(report.read_text(encoding="utf-8"))


def test_a_model_that_learned_the_rows_scores_high(workspace):
    result, report = evaluate_cli(workspace, "trained")
    print(result.stdout)  # the table, for the record (pytest -s)
    assert "generating turns" in result.stderr  # the progress bar
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["call", "turns", "no-call", "turns", "all", "turns"]
    assert any(line.startswith("exact call match") for line in lines)
    counts, scores = report["counts"], report["scores"]
    assert (counts["rows_in"], counts["rows_evaluated"], counts["turns_scored"]) == (6, 6, 12)
    assert (report["template"], report["backend"], report["split"]) == ("qwen2.5", "transformers", "train")
    calls, no_calls = scores["call_turns"], scores["no_call_turns"]
    assert (calls["turns"], no_calls["turns"]) == (5, 7)
    assert calls["exact_match"]["rate"] >= 0.8 and calls["tool_name_accuracy"]["rate"] >= 0.8
    assert calls["argument_validity"]["rate"] >= 0.8 and no_calls["no_call_accuracy"]["rate"] >= 0.8
    assert scores["all_turns"]["stopped_rate"]["rate"] >= 0.8 and scores["all_turns"]["parse_failures"] <= 1
    matched = [t for t in report["turns"] if t["exact_match"]]
    assert matched and all(t["generated"].endswith("</tool_call><|im_end|>") and t["finish_reason"] == "stop"
                           and t["tool_calls"] == t["reference"]["tool_calls"] for t in matched)


def test_an_untrained_model_scores_low(workspace):
    result, report = evaluate_cli(workspace, "untrained", "--no-progress", "--turns", "calls")
    assert "generating turns" not in result.stderr
    calls = report["scores"]["call_turns"]
    assert calls["turns"] == 5 and report["scores"]["no_call_turns"]["turns"] == 0
    assert calls["exact_match"]["rate"] <= 0.2 and calls["tool_name_accuracy"]["rate"] <= 0.2
    assert report["scores"]["all_turns"]["stopped_rate"]["rate"] <= 0.2


def test_batched_greedy_generation_equals_one_at_a_time(workspace):
    from datasets import load_dataset

    from toolcall_templates.evaluation import TransformersGenerator, eval_template, evaluate, load_model

    model, tokenizer = load_model(str(workspace / "trained"), device="cpu")
    template = eval_template(None, tokenizer)
    rows = load_dataset(str(workspace / "dataset"), split="train")
    texts = []
    for batch_size in (1, 5):
        generator = TransformersGenerator(model, tokenizer, template.stop_tokens, max_new_tokens=40,
                                          batch_size=batch_size)
        report = evaluate(rows, generator, template, turns="calls")
        texts.append([record.generation.text for record in report.records])
    assert texts[0] == texts[1] and len(texts[0]) == 5


def test_a_missing_split_an_unusable_dataset_and_a_foreign_out_file_are_refused(workspace):
    missing = run_toolcall("eval", "--in", workspace / "dataset", "--split", "validation", "--model",
                           workspace / "untrained", "--no-progress")
    assert missing.returncode == 2
    assert "has no split 'validation' (it has: " in missing.stderr and "train" in missing.stderr
    no_tools = workspace / "no_tools.jsonl"
    no_tools.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"},
                                                 {"role": "assistant", "content": "Hello!"}]}) + "\n")
    nothing = run_toolcall("eval", "--in", no_tools, "--model", workspace / "untrained", "--no-progress")
    assert nothing.returncode == 1 and "no turn evaluated: 1 row(s) in, skipped {'no_tools': 1}" in nothing.stderr
    foreign = workspace / "notes.json"
    foreign.write_text('{"mine": true}\n')
    refused = run_toolcall("eval", "--in", workspace / "dataset", "--split", "train", "--model",
                           workspace / "untrained", "--out", foreign)
    assert refused.returncode == 2 and "is not a report of toolcall eval" in refused.stderr
    assert foreign.read_text() == '{"mine": true}\n'
    inside = run_toolcall("eval", "--in", workspace / "dataset", "--split", "train", "--model",
                          workspace / "untrained", "--out", workspace / "dataset" / "eval.json")
    assert inside.returncode == 2 and "lies inside the input" in inside.stderr
