"""Any model's own chat template: our exact path vs TRL's, side by side on the same conversations (not a test).

    python benchmarks/bench_own_template.py [--rows 1000] [--templates qwen2_5 glm4moe ...] [--repeats 3]
                                            [--json out.json]

For each family, TRL's original template (``trl/chat_templates/<name>.jinja``) is installed on the family's
tokenizer (the real one from ../shared for Qwen2.5 / Qwen3, else a stand-in: the nearest real tokenizer with the
template's special tokens, see ``tests/own_template_families.py``), and two paths tokenize the same rows:

* ``ours``: ``tokenize_dataset(dataset, tokenizer, "own")``: the template as it is, two renders per assistant turn
  plus the conversation, exact labels (rows split where one row cannot hold the turns exactly). Each run starts cold
  (a fresh encoder, an empty piece cache).
* ``tokens`` (the ``bound`` column): only the tokenization that any path must do, each conversation's whole text
  (rendered beforehand, not timed) encoded once in one batch call; ``bound`` = TRL's time / this time is the ratio a
  path would reach if rendering and labels cost nothing.
* ``trl``: what a TRL user runs, ``apply_chat_template(..., tokenize=True, return_dict=True,
  return_assistant_tokens_mask=True)`` per example with TRL's hand-edited ``<name>_training.jinja``.

Data: the LLaMA-Factory Glaive demo files (480 conversations) normalized with the package and replicated to
``--rows``: ``replicated`` (plain copies) and ``distinct`` (a replica tag in every user, assistant and tool text).
Runs are interleaved and the best of ``--repeats`` is kept, so a shared machine's noise hits both paths alike.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

DEFAULT_TEMPLATES = ("qwen2_5", "qwen3", "qwen3_instruct_2507", "qwen3_5_think", "glm4moe", "gptoss", "lfm2_v2",
                     "nemotron_3_nano", "muse_glimmer")
RENDER_ARGS = {"nemotron_3_nano": {"enable_thinking": False}}
"""Nemotron's thinking prompt opens a think block that a turn without reasoning (nearly every shared one) does not
have: every such turn is a prompt mismatch, so it is measured with thinking off."""


def bench_template(name: str, rows: list[dict], batch_size: int, repeats: int) -> dict[str, dict]:
    from datasets import Dataset

    from bench_tokenize import timed
    from own_template_families import FAMILIES, TRL_TEMPLATES, family_tokenizer
    from toolcall_templates.schema import features
    from toolcall_templates.tokenization.tokenize import tokenize_dataset

    family = FAMILIES[name]
    tokenizer = family_tokenizer(name)
    training = (TRL_TEMPLATES / f"{name}_training.jinja").read_text(encoding="utf-8")
    kwargs = {**family.template_kwargs, **RENDER_ARGS.get(name, {})}
    dataset = Dataset.from_list(rows, features=features())
    report = {}

    def ours():
        tokenized, report["ours"] = tokenize_dataset(dataset, tokenizer, "own", batch_size=batch_size,
                                                     template_kwargs=kwargs, return_report=True, desc=None)
        return tokenized

    def trl_path():
        for row in rows:
            tokenizer.apply_chat_template(row["messages"], tools=row["tools"] or None, chat_template=training,
                                          tokenize=True, return_dict=True, return_assistant_tokens_mask=True, **kwargs)

    whole_texts = [tokenizer.apply_chat_template(row["messages"], tools=row["tools"] or None, tokenize=False, **kwargs)
                   for row in rows]
    backend = tokenizer.backend_tokenizer

    def tokens_only():  # the least any path does: each conversation's whole text tokenized once, in one batch
        (getattr(backend, "encode_batch_fast", None) or backend.encode_batch)(whole_texts, add_special_tokens=False)

    paths = {"ours": ours, "trl": trl_path, "tokens": tokens_only}
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(repeats):
        for path, fn in paths.items():
            seconds, _ = timed(fn)
            best[path] = min(best[path], seconds)
    n = len(rows)
    history = dict(report["ours"].history)
    return {"conv_per_s": {path: n / seconds for path, seconds in best.items()},
            "ratio": best["trl"] / best["ours"],
            "bound": best["trl"] / best["tokens"],  # the ratio a path that only tokenized would reach
            "rows_out": report["ours"].rows_out, "history": history, "dropped": dict(report["ours"].dropped)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--templates", nargs="+", default=list(DEFAULT_TEMPLATES))
    parser.add_argument("--variants", nargs="+", default=["replicated", "distinct"],
                        choices=["replicated", "distinct"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="runs per path; the best is reported")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    from bench_tokenize import SHARED, load_rows, replicate

    if not (SHARED / "sources").is_dir():
        print(f"shared material not found at {SHARED} (set TOOLCALL_SHARED)", file=sys.stderr)
        return 2
    import datasets

    datasets.disable_progress_bars()
    base = load_rows()
    results: dict[str, dict] = {}
    print(f"{'template':<24}{'data':<12}{'ours conv/s':>12}{'trl conv/s':>12}{'x trl':>7}{'bound':>7}"
          "  rows out, conversations")
    for variant in args.variants:
        rows = replicate(base, args.rows, distinct=variant == "distinct")
        for name in args.templates:
            started = time.perf_counter()
            result = bench_template(name, rows, args.batch_size, args.repeats)
            results[f"{name}/{variant}"] = result
            speed = result["conv_per_s"]
            print(f"{name:<24}{variant:<12}{speed['ours']:>12.0f}{speed['trl']:>12.0f}{result['ratio']:>7.2f}{result['bound']:>7.2f}  "
                  f"{result['rows_out']}, {result['history']} {result['dropped'] or ''}"
                  f"  ({time.perf_counter() - started:.0f}s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
