"""What both training examples share: arguments, the tokenized train split, the batching, the token count, and the
evaluation of the held-out split with ``toolcall_templates.evaluation`` (what ``toolcall eval`` runs)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

BATCHING = ("padded", "padding-free", "packed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of both scripts."""
    data = parser.add_argument_group("data")
    data.add_argument("--data", required=True, help="dataset folder built by `toolcall build` (or a Hub dataset id)")
    data.add_argument("--config", help="config of the dataset (default: its default config, every source)")
    data.add_argument("--train-split", default="train")
    data.add_argument("--eval-split", default="test",
                      help="held-out split to evaluate after training (`toolcall build --test-fraction` makes one); "
                           "'none' skips the evaluation")
    model = parser.add_argument_group("model")
    model.add_argument("--model", required=True, help="base model folder or Hub id")
    model.add_argument("--tokenizer", help="tokenizer folder or Hub id (default: the model's)")
    model.add_argument("--template", help="shipped template to train with (default: detected from the tokenizer; "
                                          "a tokenizer whose template is not a shipped one trains with its own)")
    model.add_argument("--attn-implementation", help="e.g. sdpa, flash_attention_2 (default: transformers' choice)")
    train = parser.add_argument_group("training")
    train.add_argument("--out", required=True, help="folder for the fine-tuned model, metrics and eval report")
    train.add_argument("--max-length", type=int, default=2048, help="longest row; longer conversations are dropped")
    train.add_argument("--batching", choices=BATCHING, default="padded",
                       help="padded rows, padding-free (rows concatenated, position_ids restart), or packed into "
                            "--max-length bins (best fit decreasing); same loss, different speed")
    train.add_argument("--batch-size", type=int, default=4, help="rows (packed: bins) per device step")
    train.add_argument("--grad-accum", type=int, default=1)
    train.add_argument("--max-steps", type=int, default=-1, help="stop after N optimizer steps (default: --epochs)")
    train.add_argument("--epochs", type=float, default=1.0)
    train.add_argument("--lr", type=float, default=2e-5)
    train.add_argument("--bf16", action="store_true", help="bfloat16 weights and autocast (GPUs with bf16)")
    train.add_argument("--device", choices=("auto", "cpu"), default="auto", help="auto: the GPU when there is one")
    train.add_argument("--seed", type=int, default=0)
    evaluation = parser.add_argument_group("evaluation of the held-out split")
    evaluation.add_argument("--eval-max-new-tokens", type=int, default=512)
    evaluation.add_argument("--eval-limit", type=int, help="evaluate the first N rows only")
    evaluation.add_argument("--eval-batch-size", type=int, default=8)


def check_out(args: argparse.Namespace) -> None:
    """Refuse an ``--out`` that holds files these scripts did not write (an earlier run of theirs is replaced)."""
    out = Path(args.out)
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not (out / "train_metrics.json").is_file()):
        sys.exit(f"--out {out} exists and was not written by this script; choose a new or empty folder")


def load_split(args: argparse.Namespace, split: str) -> Any:
    """One split of the dataset, with exact JSON values (``toolcall_templates.load_unified``)."""
    from toolcall_templates import load_unified

    return load_unified(args.data, args.config, split=split)


def load_tokenizer_and_model(args: argparse.Namespace) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or args.model)
    options: dict[str, Any] = {"dtype": torch.bfloat16 if args.bf16 else torch.float32}
    if args.attn_implementation:
        options["attn_implementation"] = args.attn_implementation
    return tokenizer, AutoModelForCausalLM.from_pretrained(args.model, **options)


def tokenized_train(args: argparse.Namespace, tokenizer: Any) -> Any:
    """The train split tokenized with exact labels (packed into ``--max-length`` bins for ``--batching packed``)."""
    from toolcall_templates import tokenize_dataset

    dataset, report = tokenize_dataset(load_split(args, args.train_split), tokenizer, args.template,
                                       max_length=args.max_length, pack=args.batching == "packed",
                                       return_report=True)
    print(f"tokenized {report.rows_out}/{report.rows_in} rows with template {report.template!r} "
          f"({report.trained_tokens} trained tokens); dropped: {dict(report.dropped) or 'none'}")
    if len(dataset) == 0:
        sys.exit("nothing to train on: every row was dropped (see above)")
    return dataset


class CountingCollator:
    """``ToolCallCollator`` for ``--batching`` that also counts the tokens it batches (padding excluded)."""

    def __init__(self, tokenizer: Any, batching: str, attn_implementation: str | None):
        from toolcall_templates import ToolCallCollator

        flat = batching != "padded"
        self.collator = ToolCallCollator(tokenizer, padding_free=flat,
                                         return_flash_attn_kwargs=flat and "flash" in (attn_implementation or ""))
        self.tokens = 0

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        self.tokens += sum(len(feature["input_ids"]) for feature in features)
        return self.collator(features)


def training_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """``TrainingArguments`` / ``SFTConfig`` keyword arguments shared by both scripts."""
    return dict(output_dir=args.out, per_device_train_batch_size=args.batch_size,
                gradient_accumulation_steps=args.grad_accum, max_steps=args.max_steps, num_train_epochs=args.epochs,
                learning_rate=args.lr, bf16=args.bf16, use_cpu=args.device == "cpu", seed=args.seed,
                logging_steps=10, save_strategy="no", report_to=[], remove_unused_columns=False)


def train_and_measure(trainer: Any, counter: CountingCollator, args: argparse.Namespace) -> dict[str, Any]:
    """Train; the metrics with tokens per second (tokens batched over the training time)."""
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    metrics = {"batching": args.batching, "bf16": args.bf16, "steps": result.global_step,
               "train_loss": result.training_loss, "tokens": counter.tokens, "seconds": seconds,
               "tokens_per_second": counter.tokens / seconds if seconds else None}
    print(f"trained {metrics['steps']} steps ({args.batching}): {metrics['tokens']} tokens in {seconds:.1f}s, "
          f"{metrics['tokens_per_second']:.0f} tokens/s, loss {metrics['train_loss']:.4f}")
    return metrics


def save(model: Any, tokenizer: Any, args: argparse.Namespace, metrics: dict[str, Any]) -> None:
    """The fine-tuned model and its tokenizer in ``--out`` (with ``--template``, the tokenizer carries that template,
    so ``toolcall eval`` and serving engines render what the model was trained on), and ``train_metrics.json``."""
    from toolcall_templates import apply_tool_template

    if args.template and args.template != "own":
        apply_tool_template(tokenizer, args.template)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    Path(args.out, "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


def evaluate_held_out(model: Any, tokenizer: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """Generate and score the held-out split (``toolcall eval --in DATA --split test --model OUT`` does the same from
    the command line); prints the table, writes ``eval_report.json``; None with ``--eval-split none``."""
    from toolcall_templates.evaluation import (DatasetUnavailable, NothingEvaluated, TransformersGenerator,
                                               eval_template, evaluate, load_rows)

    if args.eval_split == "none":
        return None
    template = eval_template(args.template, tokenizer)
    generator = TransformersGenerator(model.eval(), tokenizer, template.stop_tokens, name=args.out,
                                      max_new_tokens=args.eval_max_new_tokens, batch_size=args.eval_batch_size)
    try:
        rows, facts = load_rows(args.data, args.config, args.eval_split)
        report = evaluate(rows, generator, template, limit=args.eval_limit, progress=True, setup=facts)
    except (DatasetUnavailable, NothingEvaluated) as exc:
        sys.exit(f"the model is saved in {args.out}, but the evaluation failed: {exc}")
    print(f"held-out split {args.eval_split!r}:")
    print(report.table())
    summary = report.to_dict()
    Path(args.out, "eval_report.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
    return summary
