"""Exactness sweep of the general path on every shared conversation (not a test; its figures are in the README).

    python benchmarks/sweep_own_template.py [--templates qwen2_5 glm4moe ...] [--limit N] [--no-oracle]
                                            [--no-shipped] [--json out.json]

1. Every TRL original template that renders tools, on the family's tokenizer (``tests/own_template_families.py``),
   with ``template="own"`` and the family's stop tokens: conversations kept in one exact row, split into several,
   partial (turns left out, with reasons) or dropped (with reasons), and the number of conversations whose rows
   disagree with the independent turn-by-turn oracle (``tests/own_template_oracle.py``), which must be 0. Templates
   that read ``enable_thinking`` are run a second time with it false (no oracle; counts only).
2. Every shipped template installed on its tokenizer (the fixture of that name, else the first fixture with its
   tokens, else a stand-in), through the general path (``template="own"``, the sidecar's stop tokens and default
   render arguments) and through its own fast path: conversations whose rows are equal, and those that differ
   (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

LEFT_OUT = re.compile(r"assistant messages? \[?(\d+)")


def rows_of(outcome) -> list[tuple[list[int], list[int]]]:
    return [(outcome.input_ids.tolist(), outcome.labels.tolist()),
            *[(ids.tolist(), labels.tolist()) for ids, labels in outcome.extra_rows]]


def sweep_family(name: str, rows: list[dict], kwargs: dict, oracle: bool) -> dict:
    from own_template_families import FAMILIES, family_tokenizer
    from own_template_oracle import check_rows, oracle_turns, text_arguments
    from toolcall_templates.tokenization.conversation_encoder import ConversationEncoder
    from toolcall_templates.tokenization.own_template import TemplateRefused

    family = FAMILIES[name]
    tokenizer = family_tokenizer(name)
    try:
        encoder = ConversationEncoder(tokenizer, "own", stop_tokens=list(family.stop_tokens), template_kwargs=kwargs)
    except TemplateRefused as exc:
        return {"refused": str(exc)}
    outcomes = encoder.encode_rows([{"messages": r["messages"], "tools": r["tools"]} for r in rows])
    kinds, dropped, left_out, disagree = Counter(), Counter(), Counter(), []
    for row, outcome in zip(rows, outcomes):
        if outcome.drop_reason is not None:
            kinds["dropped"] += 1
            dropped[outcome.drop_reason] += 1
        else:
            kinds[outcome.history] += 1
            left_out.update(entry.split(":")[0] for entry in outcome.turns_left_out)
        if not oracle or outcome.drop_reason is not None:
            continue
        messages = text_arguments(row["messages"]) if encoder.turns.template.arguments_as_text else row["messages"]
        turns = oracle_turns(tokenizer, messages, row["tools"] or None, list(family.stop_tokens), **kwargs)
        gone = {int(m.group(1)) for entry in outcome.turns_left_out if (m := LEFT_OUT.search(entry))}
        if check_rows(turns, rows_of(outcome), gone):
            disagree.append(row["id"])
    return {"conversations": len(rows), **{k: kinds[k] for k in ("exact", "split", "partial", "dropped")},
            "drop_reasons": dict(dropped), "turns_left_out": dict(left_out),
            "oracle_disagreements": len(disagree) if oracle else None, "disagreeing": disagree[:5]}


def shipped_tokenizer(name: str):
    from conftest import SHARED, stand_in_tokenizer
    from transformers import AutoTokenizer

    from toolcall_templates.install import TemplateInstallError, check_required_tokens, required_tokens
    from toolcall_templates.templates import get_template

    spec = get_template(name)
    fixtures = ["qwen2.5", "qwen3", "glm4", "llama3.1", "llama3.2"]
    ordered = [f for f in fixtures if f == name] + [f for f in fixtures if f != name and name.startswith(f[:4])] + \
        fixtures
    for fixture in dict.fromkeys(ordered):
        tokenizer = AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / fixture))
        try:
            check_required_tokens(tokenizer, spec)
        except TemplateInstallError:
            continue
        tokenizer.chat_template = spec.source
        return fixture, tokenizer
    base = next((f for f in ("glm4", "llama3.1") if name.startswith(f[:4])), "qwen3")
    return f"stand-in {base}", stand_in_tokenizer(base, required_tokens(spec), chat_template=spec.source)


def sweep_shipped(name: str, rows: list[dict]) -> dict:
    from toolcall_templates.templates import get_template
    from toolcall_templates.tokenization.conversation_encoder import ConversationEncoder

    spec = get_template(name)
    label, tokenizer = shipped_tokenizer(name)
    batch = [{"messages": r["messages"], "tools": r["tools"]} for r in rows]
    fast = ConversationEncoder(tokenizer, name).encode_rows(batch)
    general = ConversationEncoder(tokenizer, "own", template_kwargs=spec.default_kwargs,
                                  stop_tokens=list(spec.stop_tokens)).encode_rows(batch)
    counts, differing = Counter(), []
    for row, a, b in zip(rows, fast, general):
        same = a.drop_reason == b.drop_reason and (a.drop_reason is not None or rows_of(a) == rows_of(b))
        counts["equal" if same else "differ"] += 1
        counts[a.drop_reason or a.history] += 1
        if not same:
            differing.append(row["id"])
    return {"tokenizer": label, **counts, "differing": differing[:5]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", nargs="+", help="TRL originals (default: all that render tools)")
    parser.add_argument("--limit", type=int, help="every k-th shared conversation, this many")
    parser.add_argument("--no-oracle", action="store_true", help="counts only")
    parser.add_argument("--no-shipped", action="store_true", help="skip the shipped-template comparison")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from conftest import SHARED
    from own_template_families import FAMILIES, template_text
    from test_template_parity import shared_rows
    from toolcall_templates.templates import list_templates

    if not (SHARED / "sources").is_dir():
        print(f"shared material not found at {SHARED} (set TOOLCALL_SHARED)", file=sys.stderr)
        return 2
    rows = list(shared_rows())
    if args.limit:
        rows = rows[::max(1, len(rows) // args.limit)][:args.limit]
    results: dict[str, dict] = {"families": {}, "shipped": {}}
    print(f"{len(rows)} shared conversations\n")
    for name in args.templates or sorted(FAMILIES):
        runs = [("", FAMILIES[name].template_kwargs, not args.no_oracle)]
        if "enable_thinking" in template_text(name):
            runs.append((" enable_thinking=false", {**FAMILIES[name].template_kwargs, "enable_thinking": False}, False))
        for suffix, kwargs, oracle in runs:
            started = time.perf_counter()
            result = sweep_family(name, rows, kwargs, oracle)
            results["families"][name + suffix] = result
            print(f"{name + suffix:<42} {json.dumps(result, ensure_ascii=False)} "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
    if not args.no_shipped:
        print()
        for name in list_templates():
            started = time.perf_counter()
            result = sweep_shipped(name, rows)
            results["shipped"][name] = result
            print(f"{name:<42} {json.dumps(result)} ({time.perf_counter() - started:.0f}s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
