"""Tiny random Qwen2 models with the real Qwen2.5 vocabulary, a fast way to make one memorize a few conversations, and
small datasets built by ``toolcall build`` from Glaive demo conversations to train and evaluate them on.

``overfit`` trains on exactly the labels ``tokenize_dataset`` gives (every assistant turn through its stop token) with
the model's full-vocabulary cross-entropy, made cheap on CPU: the output rows of the tokens the labels never use are
zero and frozen, so their logits are exactly 0 and the softmax over them is the constant ``log(V - used)``; only the
output rows of the used tokens and the transformer layers are trained. The saved model is a plain
``Qwen2ForCausalLM`` whose greedy decoding reproduces the memorized turns.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from conftest import run_toolcall, shared_path


def tiny_qwen2(tokenizer: Any, *, seed: int = 0, hidden: int = 64, tie: bool = False) -> Any:
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=tie,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
    )
    return transformers.Qwen2ForCausalLM(config)


def overfit(model: Any, tokenized: Any, tokenizer: Any, *, max_steps: int = 200, target_loss: float = 0.01,
            lr: float = 1e-2) -> tuple[int, float]:
    """Train ``model`` (untied head) on every row of ``tokenized`` at once until the mean loss per trained token is
    below ``target_loss``; returns ``(steps, final loss)``."""
    import torch

    from toolcall_templates import ToolCallCollator

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-core machine shared with other jobs: more threads only contend
    try:
        batch = ToolCallCollator(tokenizer)([tokenized[i] for i in range(len(tokenized))])
        labels = batch["labels"][:, 1:]
        trained = labels != -100
        used = torch.unique(labels[trained])
        index = torch.full((len(tokenizer),), -1, dtype=torch.long)
        index[used] = torch.arange(len(used))
        targets = index[labels[trained]]
        unused = math.log(model.config.vocab_size - len(used))
        model.model.embed_tokens.weight.requires_grad_(False)
        model.lm_head.weight.requires_grad_(False)
        head = torch.nn.Parameter(model.lm_head.weight[used].detach().clone())
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad] + [head], lr=lr,
                                      weight_decay=0.0)
        model.train()
        loss_value, step = float("inf"), 0
        for step in range(1, max_steps + 1):
            hidden = model.model(input_ids=batch["input_ids"],
                                 attention_mask=batch["attention_mask"]).last_hidden_state[:, :-1][trained]
            logits = hidden @ head.T
            logits = torch.cat([logits, torch.full((len(logits), 1), unused)], dim=1)  # every unused token: 0
            loss = torch.nn.functional.cross_entropy(logits, targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss_value = loss.item()
            if loss_value < target_loss:
                break
        with torch.no_grad():
            model.lm_head.weight.zero_()
            model.lm_head.weight[used] = head
        model.eval()
        return step, loss_value
    finally:
        torch.set_num_threads(threads)


def save(model: Any, tokenizer: Any, folder: Path) -> Path:
    """``save_pretrained`` of the model and its tokenizer into ``folder``."""
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def built_demo_dataset(root: Path, pick: tuple[int, ...], *options: str) -> Path:
    """``root/dataset``, built by the installed ``toolcall build`` (with ``options``) from the Glaive demo records
    at the positions ``pick`` of the shared LLaMA-Factory file (skips when it is absent)."""
    source = shared_path("sources", "llamafactory_sharegpt_tools", "glaive_toolcall_en_demo.json")
    records = json.loads(source.read_text(encoding="utf-8"))
    (root / "rows.json").write_text(json.dumps([records[i] for i in pick]), encoding="utf-8")
    built = run_toolcall("build", "--source", f"demo={root / 'rows.json'}", *options, "--out", root / "dataset",
                         "--no-progress")
    assert built.returncode == 0, built.stderr
    return root / "dataset"
