"""Tokenization throughput, side by side on the same conversations (not a test).

    python benchmarks/bench_tokenize.py [--rows 3000] [--families qwen2.5 glm4 llama3.1] [--repeats 3] [--json out.json]

Data: the LLaMA-Factory Glaive demo files in ../shared (240 + 240 records), normalized with the package and
replicated to ``--rows``. Two variants are measured:

* ``replicated``: plain copies, as asked for. Whole conversations recur, which flatters any cache.
* ``distinct``: each copy gets a replica tag in every user, assistant and tool text, so only what recurs in real
  data (tool definitions, system prompts, role headers, tool calls) recurs here.

Paths, each on the same rows:

* (a) ``bare``: ``tokenizer(list_of_rendered_texts, add_special_tokens=False)`` in batches; texts rendered
  beforehand (untimed). The floor of a one-pass design: no rendering, no offsets, no labels.
* (b) ``ours``: ``tokenize_dataset`` on an in-memory ``datasets.Dataset`` of canonical rows: decode, render,
  tokenize (pieces between special tokens encoded once, see ``segment_encoder``), labels, report. Each run starts
  cold: a fresh encoder (empty piece cache) and no remembered ``tojson`` output.
* (c) ``trl``: TRL's path, ``apply_chat_template(..., tokenize=True, return_assistant_tokens_mask=True)`` per
  example, with TRL's ``qwen2_5_training.jinja`` for Qwen2.5 (the shipped template for the other families, which
  TRL has no training template for).
* (d) ``per-message``: LLaMA-Factory style, one ``tokenizer.encode`` per message on the message's own rendered
  text (split beforehand at the role headers, untimed), labels by role.
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
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("TOOLCALL_SHARED", ROOT.parent / "shared"))
GLAIVE = ("glaive_toolcall_en_demo.json", "glaive_toolcall_zh_demo.json")
TEMPLATE_KWARGS = {"llama3.1": {"date_string": "26 Jul 2024"}, "llama3.2": {"date_string": "26 Jul 2024"}}
ROLE_HEADERS = {"qwen": "<|im_start|>", "llama3": "<|start_header_id|>", "glm4": "<|"}


def load_rows() -> list[dict]:
    from toolcall_templates.normalize import normalize

    rows = []
    for name in GLAIVE:
        records = json.loads((SHARED / "sources" / "llamafactory_sharegpt_tools" / name).read_text(encoding="utf-8"))
        rows.extend(normalize(record, source="glaive") for record in records)
    return rows


def replicate(rows: list[dict], count: int, distinct: bool) -> list[dict]:
    out = []
    for i in range(count):
        row = json.loads(json.dumps(rows[i % len(rows)]))
        replica = i // len(rows)
        if distinct and replica:
            for message in row["messages"]:
                if message["role"] != "system" and message.get("content"):
                    message["content"] = f"{message['content']} [{replica}]"
        row["id"] = f"{row['id']}-{i}"
        out.append(row)
    return out


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_family(family: str, rows: list[dict], batch_size: int, repeats: int) -> dict[str, dict]:
    from datasets import Dataset

    from toolcall_templates.render_environment import clear_memos
    from toolcall_templates.schema import features
    from toolcall_templates.templates import get_template, render
    from toolcall_templates.tokenization.tokenize import tokenize_dataset
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / family))
    kwargs = TEMPLATE_KWARGS.get(family, {})
    template = get_template(family)
    rendered = [render(template, r["messages"], r["tools"] or None, **kwargs)[0] for r in rows]
    dataset = Dataset.from_list(rows, features=features())

    def bare():
        total = 0
        for start in range(0, len(rendered), batch_size):
            total += sum(map(len, tokenizer(rendered[start:start + batch_size], add_special_tokens=False)["input_ids"]))
        return total

    def ours():
        clear_memos()
        return tokenize_dataset(dataset, tokenizer, family, batch_size=batch_size, template_kwargs=kwargs, desc=None)

    trl_template = _trl_template(family) or template.source

    def trl_path():
        for r in rows:
            tokenizer.apply_chat_template(r["messages"], tools=r["tools"] or None, chat_template=trl_template,
                                          tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                          **kwargs)

    header = ROLE_HEADERS.get(template.family, "<|")
    per_message_texts = [_split_messages(text, header) for text in rendered]

    def per_message():
        for chunks in per_message_texts:
            ids, labels = [], []
            for chunk, trained in chunks:
                piece = tokenizer.encode(chunk, add_special_tokens=False)
                ids.extend(piece)
                labels.extend(piece if trained else [-100] * len(piece))

    paths = {"bare (a)": bare, "ours (b)": ours, "trl (c)": trl_path, "per-message (d)": per_message}
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(repeats):  # interleaved, best of `repeats`: a shared machine's noise hits every path alike
        for name, fn in paths.items():
            seconds, result = timed(fn)
            best[name] = min(best[name], seconds)
            if name == "ours (b)":
                assert len(result) == len(rows), "benchmark rows must all tokenize"
    tokens = bare()
    n = len(rows)
    return {name: {"seconds": seconds, "conv_per_s": n / seconds, "tokens_per_s": tokens / seconds,
                   "vs_bare": best["bare (a)"] / seconds, "vs_trl": best["trl (c)"] / seconds}
            for name, seconds in best.items()}


def _trl_template(family: str) -> str | None:
    if family != "qwen2.5":
        return None
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / "qwen2_5_training.jinja"
    return path.read_text(encoding="utf-8") if path.exists() else None


def _split_messages(text: str, header: str) -> list[tuple[str, bool]]:
    """The rendered text cut before each role header; chunks that are assistant turns are trained."""
    chunks = []
    start = 0
    while True:
        nxt = text.find(header, start + 1)
        chunk = text[start:] if nxt == -1 else text[start:nxt]
        chunks.append((chunk, "assistant" in chunk[:40]))
        if nxt == -1:
            return chunks
        start = nxt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--families", nargs="+", default=["qwen2.5", "glm4", "llama3.1"])
    parser.add_argument("--variants", nargs="+", default=["replicated", "distinct"],
                        choices=["replicated", "distinct"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="runs per path; the best is reported")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not (SHARED / "sources").is_dir():
        print(f"shared material not found at {SHARED} (set TOOLCALL_SHARED)", file=sys.stderr)
        return 2
    import datasets

    datasets.disable_progress_bars()
    base = load_rows()
    results: dict[str, dict] = {}
    for variant in args.variants:
        rows = replicate(base, args.rows, distinct=variant == "distinct")
        for family in args.families:
            table = bench_family(family, rows, args.batch_size, args.repeats)
            results[f"{family}/{variant}"] = table
            print(f"\n{family}, {variant}, {len(rows)} conversations")
            print(f"{'path':<20}{'conv/s':>10}{'tokens/s':>12}{'x bare':>9}{'x trl':>8}")
            for name, row in table.items():
                print(f"{name:<20}{row['conv_per_s']:>10.0f}{row['tokens_per_s']:>12.0f}"
                      f"{row['vs_bare']:>9.2f}{row['vs_trl']:>8.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
