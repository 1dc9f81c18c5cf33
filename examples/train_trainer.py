"""Fine-tune a model for tool use with ``transformers.Trainer`` and ``ToolCallCollator``, then evaluate it.

    toolcall build --source glaive=glaive_toolcall_en_demo.json --test-fraction 0.1 --out my-dataset
    python examples/train_trainer.py --data my-dataset --model Qwen/Qwen2.5-0.5B-Instruct --out my-model \\
        --batching packed --max-steps 200 --bf16

The train split is tokenized with exact labels (every assistant turn through its stop token, nothing else), batched
padded, padding-free or packed, and trained; the model is saved to ``--out`` with ``train_metrics.json`` (tokens per
second) and evaluated on the held-out split (``eval_report.json``, the table on the terminal), as
``toolcall eval --in my-dataset --split test --model my-model`` would.
"""

from __future__ import annotations

import argparse

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_arguments(parser)
    args = parser.parse_args()
    common.check_out(args)

    from transformers import Trainer, TrainingArguments

    tokenizer, model = common.load_tokenizer_and_model(args)
    train = common.tokenized_train(args, tokenizer)
    collator = common.CountingCollator(tokenizer, args.batching, args.attn_implementation)
    trainer = Trainer(model=model, args=TrainingArguments(**common.training_arguments(args)), train_dataset=train,
                      data_collator=collator)
    metrics = common.train_and_measure(trainer, collator, args)
    common.save(trainer.model, tokenizer, args, metrics)
    common.evaluate_held_out(trainer.model, tokenizer, args)


if __name__ == "__main__":
    main()
