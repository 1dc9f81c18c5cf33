"""Labels from a model's own chat template against the independent turn-by-turn oracle (``own_template_oracle``).

Every TRL original template that renders tools is tried, with the model's real tokenizer where ``../shared`` has it
and a stand-in otherwise (``own_template_families``), on a sample of the shared conversations chosen to cover
parallel calls, reasoning, multi-turn tool loops and conversations that end without an answer. The shipped
templates, installed on their tokenizers and taken through the same general path (``template="own"``), must give
exactly the rows of their fast path. ``benchmarks/sweep_own_template.py`` runs both checks on every shared
conversation; its figures are in the README.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pytest

from conftest import SHARED, requires_shared
from own_template_families import FAMILIES, family_tokenizer
from own_template_oracle import check_rows, oracle_turns, text_arguments

LEFT_OUT = re.compile(r"assistant messages? \[?(\d+)")
DROP_REASONS = {"control_token", "template_error", "turn_not_rendered", "prompt_mismatch", "no_stop_token"}
"""Why a whole conversation may be dropped: the row's own data, the template refusing it, or no turn expressible."""
SHIPPED = {"qwen2.5": "qwen2.5", "qwen3": "qwen3", "llama3.1": "llama3.1", "llama3.2": "llama3.2", "glm4": "glm4",
           "chatml-react-en": "qwen2.5", "chatml-toolbench": "qwen2.5"}


@lru_cache(maxsize=1)
def sample_rows() -> tuple[dict, ...]:
    """9 shared conversations, the shortest of each kind: 2 with parallel calls, 2 with reasoning, 2 with at least
    four assistant turns, 2 that end without an assistant answer, 1 more with a call."""
    import json

    from test_template_parity import shared_rows

    rows = sorted(shared_rows(), key=lambda r: (len(json.dumps(r["messages"], ensure_ascii=False)), r["id"]))
    kinds = [
        (2, lambda r: any(len(m.get("tool_calls") or []) > 1 for m in r["messages"])),
        (2, lambda r: any(m.get("reasoning_content") for m in r["messages"])),
        (2, lambda r: sum(m["role"] == "assistant" for m in r["messages"]) >= 4),
        (2, lambda r: r["messages"][-1]["role"] != "assistant"),
        (1, lambda r: any(m.get("tool_calls") for m in r["messages"])),
    ]
    picked: dict[str, dict] = {}
    for count, wanted in kinds:
        for row in [r for r in rows if wanted(r) and r["id"] not in picked][:count]:
            picked[row["id"]] = row
    return tuple(picked.values())


def library_rows(outcome) -> list[tuple[list[int], list[int]]]:
    return [(outcome.input_ids.tolist(), outcome.labels.tolist()),
            *[(ids.tolist(), labels.tolist()) for ids, labels in outcome.extra_rows]]


@requires_shared
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_own_template_labels_equal_the_oracle(name):
    from toolcall_templates.tokenization.conversation_encoder import ConversationEncoder
    from toolcall_templates.tokenization.own_template import TemplateRefused

    family = FAMILIES[name]
    tokenizer = family_tokenizer(name)
    try:
        encoder = ConversationEncoder(tokenizer, "own", stop_tokens=list(family.stop_tokens),
                                      template_kwargs=family.template_kwargs)
    except TemplateRefused as exc:
        assert name == "lfm2" and "cannot render a tool call" in str(exc)  # it never reads tool_calls
        return
    rows = sample_rows()
    outcomes = encoder.encode_rows([{"messages": r["messages"], "tools": r["tools"]} for r in rows])
    problems, kept = [], 0
    for row, outcome in zip(rows, outcomes):
        messages = text_arguments(row["messages"]) if encoder.turns.template.arguments_as_text else row["messages"]
        turns = oracle_turns(tokenizer, messages, row["tools"] or None, list(family.stop_tokens),
                             **family.template_kwargs)
        if outcome.drop_reason is not None:
            assert outcome.drop_reason in DROP_REASONS, (row["id"], outcome.drop_reason, outcome.detail)
            if outcome.drop_reason in ("prompt_mismatch", "no_stop_token") and len(turns) == 1:
                assert not turns[0].expressible, (row["id"], outcome.detail)
            continue
        kept += 1
        left_out = {int(m.group(1)) for entry in outcome.turns_left_out if (m := LEFT_OUT.search(entry))}
        problems += [f"{row['id']}: {p}" for p in check_rows(turns, library_rows(outcome), left_out)]
    assert not problems, problems[:5]
    assert kept >= 2, f"{name}: only {kept} of {len(rows)} kept"


@requires_shared
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_templates_through_the_general_path_equal_their_fast_path(name):
    """The shipped template installed on its tokenizer, taken as the tokenizer's own template (sandbox-equivalent
    rendering, stop tokens of the sidecar, GLM-4's stop token found as the next message's header): same rows."""
    from transformers import AutoTokenizer

    from toolcall_templates.templates import get_template
    from toolcall_templates.tokenization.conversation_encoder import ConversationEncoder

    spec = get_template(name)
    tokenizer = AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / SHIPPED[name]))
    tokenizer.chat_template = spec.source
    rows = [{"messages": r["messages"], "tools": r["tools"]} for r in sample_rows()]
    fast = ConversationEncoder(tokenizer, name).encode_rows(rows)
    general = ConversationEncoder(tokenizer, "own", template_kwargs=spec.default_kwargs,
                                  stop_tokens=list(spec.stop_tokens)).encode_rows(rows)
    for row, a, b in zip(sample_rows(), fast, general):
        assert a.drop_reason == b.drop_reason, row["id"]
        if a.drop_reason is None:
            assert library_rows(a) == library_rows(b), row["id"]
            assert a.history == b.history
    assert sum(o.drop_reason is None for o in fast) >= len(rows) - 2
