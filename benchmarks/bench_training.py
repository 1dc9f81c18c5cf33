"""Training throughput of padded, padding-free and packed batches, side by side in one run.

    python benchmarks/bench_training.py --data my-dataset --model Qwen/Qwen2.5-0.5B-Instruct --out runs \\
        --bf16 --attn-implementation flash_attention_2 --max-steps 50 --batch-size 8 --max-length 2048

Runs ``examples/train_trainer.py`` once per batching (same data, model, steps and options; no evaluation), each into
``OUT/<batching>``, and prints the tokens per second each measured (tokens batched, padding excluded, over the
training time) with the ratio to padded batches. Any option after ``--`` goes to every run unchanged.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "train_trainer.py"
BATCHINGS = ("padded", "padding-free", "packed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True, help="folder for one run per batching")
    parser.add_argument("--max-steps", default="50")
    parser.add_argument("--batch-size", default="8")
    parser.add_argument("--max-length", default="2048")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--attn-implementation")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="-- options for every run")
    args = parser.parse_args()
    common = ["--data", args.data, "--model", args.model, "--max-steps", args.max_steps, "--batch-size",
              args.batch_size, "--max-length", args.max_length, "--eval-split", "none",
              *(["--bf16"] if args.bf16 else []),
              *(["--attn-implementation", args.attn_implementation] if args.attn_implementation else []),
              *[option for option in args.rest if option != "--"]]
    results = {}
    for batching in BATCHINGS:
        out = Path(args.out) / batching
        subprocess.run([sys.executable, str(SCRIPT), *common, "--batching", batching, "--out", str(out)], check=True)
        results[batching] = json.loads((out / "train_metrics.json").read_text(encoding="utf-8"))
    padded = results["padded"]["tokens_per_second"]
    print(f"\n{args.model}, {args.max_steps} steps, batch {args.batch_size}, max length {args.max_length}, "
          f"{'bf16' if args.bf16 else 'fp32'}, attention {args.attn_implementation or 'default'}\n")
    print("| batching | tokens | seconds | tokens/s | vs padded |\n|---|---|---|---|---|")
    for batching, metrics in results.items():
        speed = metrics["tokens_per_second"]
        print(f"| {batching} | {metrics['tokens']:,} | {metrics['seconds']:.1f} | {speed:,.0f} "
              f"| {speed / padded:.2f}x |")


if __name__ == "__main__":
    main()
