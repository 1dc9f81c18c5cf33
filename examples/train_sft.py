"""Fine-tune a model for tool use with TRL's ``SFTTrainer`` (full, or LoRA through ``peft``), then evaluate it.

    toolcall build --source glaive=glaive_toolcall_en_demo.json --test-fraction 0.1 --out my-dataset
    python examples/train_sft.py --data my-dataset --model Qwen/Qwen2.5-0.5B-Instruct --out my-model --lora \\
        --batching padding-free --max-steps 200 --bf16

``SFTTrainer`` gets the dataset already tokenized (exact labels: every assistant turn through its stop token) and
``ToolCallCollator``, so it trains exactly what the model generates at inference. With ``--lora`` only low-rank
adapters are trained; they are saved in ``--out/adapter`` and merged into the model saved in ``--out``, which
``toolcall eval`` and serving engines load as any model. The held-out split is evaluated at the end.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_arguments(parser)
    lora = parser.add_argument_group("LoRA (peft)")
    lora.add_argument("--lora", action="store_true", help="train LoRA adapters instead of every weight")
    lora.add_argument("--lora-r", type=int, default=16)
    lora.add_argument("--lora-alpha", type=int, default=32)
    lora.add_argument("--lora-dropout", type=float, default=0.05)
    lora.add_argument("--lora-target-modules", default="all-linear",
                      help="comma-separated module names, or all-linear (default)")
    args = parser.parse_args()
    common.check_out(args)

    from trl import SFTConfig, SFTTrainer

    tokenizer, model = common.load_tokenizer_and_model(args)
    train = common.tokenized_train(args, tokenizer)
    collator = common.CountingCollator(tokenizer, args.batching, args.attn_implementation)
    config = SFTConfig(**common.training_arguments(args), max_length=args.max_length)
    trainer = SFTTrainer(model=model, args=config, train_dataset=train, processing_class=tokenizer,
                         data_collator=collator, peft_config=lora_config(args) if args.lora else None)
    metrics = common.train_and_measure(trainer, collator, args)
    model = trainer.model
    if args.lora:
        model.save_pretrained(str(Path(args.out) / "adapter"))
        model = model.merge_and_unload()
        metrics["lora"] = {"r": args.lora_r, "alpha": args.lora_alpha, "target_modules": args.lora_target_modules}
    common.save(model, tokenizer, args, metrics)
    common.evaluate_held_out(model, tokenizer, args)


def lora_config(args: argparse.Namespace):
    from peft import LoraConfig

    targets = args.lora_target_modules
    return LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout, task_type="CAUSAL_LM",
                      target_modules=targets if targets == "all-linear" else targets.split(","))


if __name__ == "__main__":
    main()
