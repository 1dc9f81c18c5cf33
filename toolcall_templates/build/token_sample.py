"""Tokens per row under a reference tokenizer, for the card's plot, measured on a sample read back from the shards.

The sample is the ``limit`` rows of a config with the lowest ``split.sample_key`` of their id: the same rows on every
rebuild, spread over the whole source (not its first file). Each is rendered with the tokenizer's own chat template
and the row's tools, as training would see it; a row the template cannot render is counted and left out.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Any

from .split import sample_key


def load_reference_tokenizer(name: str):
    """``AutoTokenizer.from_pretrained(name)``, or ``ValueError`` saying why it cannot be loaded."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
    except Exception as exc:  # missing folder, no network, not a tokenizer: all mean "cannot use it"
        raise ValueError(f"cannot load the plot tokenizer {name!r}: {type(exc).__name__}: {exc}") from exc
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"the plot tokenizer {name!r} has no chat template")
    return tokenizer


def sample_token_counts(folder: Path, tokenizer: Any, limit: int) -> tuple[list[int], int]:
    """``(token counts, rows that failed to render)`` for the sampled rows of the shards in ``folder``."""
    import pyarrow.parquet as pq

    shards = sorted(folder.glob("*.parquet"))
    keyed = ((sample_key(row_id), shard, position) for shard, path in enumerate(shards)
             for position, row_id in enumerate(pq.read_table(path, columns=["id"]).column("id").to_pylist()))
    chosen: dict[int, list[int]] = {}
    for _, shard, position in heapq.nsmallest(limit, keyed):
        chosen.setdefault(shard, []).append(position)
    counts, failures = [], 0
    for shard, positions in sorted(chosen.items()):
        table = pq.read_table(shards[shard], columns=["tools", "messages"]).take(sorted(positions))
        for tools, messages in zip(table.column("tools").to_pylist(), table.column("messages").to_pylist()):
            try:
                ids = tokenizer.apply_chat_template([json.loads(m) for m in messages], tools=_tools(tools),
                                                    tokenize=True, return_dict=False)
            except Exception:  # a template that rejects this conversation: counted, not fatal
                failures += 1
                continue
            counts.append(len(ids))
    return counts, failures


def _tools(tools: list[dict] | None) -> list[dict] | None:
    if tools is None:
        return None
    return [{"type": tool["type"], "function": {**tool["function"], "parameters": json.loads(
        tool["function"]["parameters"])}} for tool in tools]
