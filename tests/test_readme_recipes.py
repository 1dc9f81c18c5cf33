"""The README's training recipes run as written, so that they cannot rot, and train exactly ``tokenize_dataset``'s
labels on every path: (a) built rows with ``assistant_only_loss``, (b) pre-tokenized rows with ``SFTTrainer``, (c)
``Trainer`` with ``ToolCallCollator``, each padded, padding-free and packed.

The blocks of the README section are executed in order, in one namespace, with only the names a test machine
cannot download replaced (:func:`stand_ins`, :func:`substituted`): ``MODEL`` becomes a tiny random Qwen2 saved with
the real Qwen2.5 tokenizer, ``"toolcall-unified"`` a folder built by ``toolcall build`` from two short Glaive demo
conversations, ``output_dir="out"`` a temporary folder on the CPU. Every model the recipes load records the batches
it receives (``fed_batches``), and every run's final ``train_loss`` is recorded from ``Trainer.log``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO_ROOT, load_tokenizer
from fed_batches import FedBatches, expected_conversations
from tiny_models import built_demo_dataset, save, tiny_qwen2

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("trl")

SECTION = "### Training with `Trainer` and TRL's `SFTTrainer`"
PICK = (159, 233)  # two short Glaive demo conversations that call tools: a step of TRL's fused loss is slow on CPU
RUNS = [f"{path} {batching}" for path in ("(a)", "(b)") for batching in ("padded", "padding-free", "packed")]
RUNS += ["(b) pack_dataset", "(c) padded", "(c) padding-free", "(c) packed"]


def readme_blocks(heading: str) -> list[str]:
    """The ```python blocks of the README section under ``heading`` (up to the next heading of its level or
    above; a ``#`` inside a code block is no heading)."""
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    level = len(heading.split(" ")[0])
    blocks: list[str] = []
    inside, fence, block = False, None, []
    for line in lines:
        if fence is None and re.match(r"#{1,%d} " % level, line):
            if inside:
                break
            inside = line == heading
        elif line.startswith("```"):
            if fence is None:
                fence, block = line[3:].strip(), []
            else:
                if inside and fence == "python":
                    blocks.append("\n".join(block) + "\n")
                fence = None
        elif fence is not None:
            block.append(line)
    return blocks


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> dict[str, Path]:
    """What the recipes run on instead of the README's model and dataset: a tiny random Qwen2 saved with the real
    Qwen2.5 tokenizer, two Glaive demo conversations built by ``toolcall build``, a temporary output folder."""
    root = tmp_path_factory.mktemp("readme")
    tokenizer = load_tokenizer("qwen2.5")
    return {"model": save(tiny_qwen2(tokenizer, hidden=32), tokenizer, root / "tiny-qwen2"),
            "dataset": built_demo_dataset(root, PICK), "out": root / "out"}


def substituted(code: str, stand_ins: dict[str, Path]) -> str:
    """``code`` with the README's model id and dataset folder replaced by the stand-ins, and its output folder by a
    temporary one on the CPU (``SFTConfig`` defaults to bf16, which needs a GPU unless ``use_cpu=True``)."""
    substitutions = {'"Qwen/Qwen2.5-0.5B-Instruct"': repr(str(stand_ins["model"])),
                     '"toolcall-unified"': repr(str(stand_ins["dataset"])),
                     'output_dir="out"': f"output_dir={str(stand_ins['out'])!r}, use_cpu=True"}
    for written, replacement in substitutions.items():
        assert written in code, f"the README recipes no longer use {written}: update the substitutions"
        code = code.replace(written, replacement)
    return code


@pytest.fixture
def recorded(monkeypatch):
    """Every model ``AutoModelForCausalLM.from_pretrained`` loads records what it is fed; ``Trainer.log`` records
    each run's ``train_loss``."""
    runs: list[FedBatches] = []
    losses: list[float] = []
    load, log = transformers.AutoModelForCausalLM.from_pretrained, transformers.Trainer.log

    def recording_load(*args, **kwargs):
        model = load(*args, **kwargs)
        runs.append(FedBatches(model))
        return model

    def recording_log(self, logs, *args, **kwargs):
        if "train_loss" in logs:
            losses.append(logs["train_loss"])
        return log(self, logs, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", recording_load)
    monkeypatch.setattr(transformers.Trainer, "log", recording_log)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: more threads only contend
    yield runs, losses
    torch.set_num_threads(threads)


def test_the_training_recipes_run_and_feed_every_path_the_labels_of_tokenize_dataset(stand_ins, recorded,
                                                                                     tmp_path, monkeypatch):
    from toolcall_templates import apply_tool_template, load_unified, tokenize_dataset

    blocks = readme_blocks(SECTION)
    assert len(blocks) == 4, f"the README section {SECTION!r} should hold the setup and the (a), (b), (c) blocks"
    code = substituted("\n".join(blocks), stand_ins)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_recipes"}
    exec(compile(code, "README.md (training recipes)", "exec"), namespace)

    runs, losses = recorded
    assert len(runs) == len(RUNS) and len(losses) == len(RUNS), (len(runs), len(losses))
    tokenizer = apply_tool_template(transformers.AutoTokenizer.from_pretrained(str(stand_ins["model"])), "qwen2.5")
    reference = tokenize_dataset(load_unified(str(stand_ins["dataset"])), tokenizer, max_length=2048, desc=None)
    expected = expected_conversations(reference)
    assert sum(expected.values()) == len(PICK)
    for name, run in zip(RUNS, runs):
        assert len(run.batches) == 1, f"{name}: one step expected, got {len(run.batches)} batches"
        batch = run.batches[0]
        flat = "padded" not in name
        assert ("position_ids" in batch and "attention_mask" not in batch) == flat, (name, sorted(batch))
        assert Counter(run.conversations()) == expected, f"{name}: fed other rows or labels than tokenize_dataset's"
    assert all(abs(loss - losses[0]) <= 1e-4 * losses[0] for loss in losses), dict(zip(RUNS, losses))

