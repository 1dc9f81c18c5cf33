"""Generation markers: the tokens inside ``{% generation %}`` blocks are exactly what the model generates at inference.

The oracle is computed from the *official* render's token ids alone, without our template: for each assistant turn,
every token after the family's generation prompt through its stop token (Qwen: after ``<|im_start|>assistant\\n``
through ``<|im_end|>``; Llama: after ``<|start_header_id|>assistant<|end_header_id|>\\n\\n`` through
``<|eot_id|>``/``<|eom_id|>``; GLM-4: after ``<|assistant|>`` through the next role token, as GLM-4's
``finetune/finetune.py`` trains it). Our mask maps the generation character spans to tokens the way
``apply_chat_template(return_assistant_tokens_mask=True)`` does, and that path itself is checked on a sample.
"""

from __future__ import annotations

import json

import pytest
from jinja2.exceptions import TemplateError

from conftest import load_tokenizer
from test_template_parity import (FIXTURE, TEMPLATES, family_cases, family_encodings, official_render,
                                  render_kwargs, tools_of)
from toolcall_templates.templates import get_template, render

GLM_ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", "<|observation|>")


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def oracle_mask(template: str, ids: list[int], tokenizer) -> list[int]:
    """1 for every token the model generates, located in the official ids by the family's prompt and stop tokens."""
    if template == "glm4":
        starts = [tokenizer.convert_tokens_to_ids("<|assistant|>")]
        stops = set(tokenizer.convert_tokens_to_ids(GLM_ROLE_TOKENS))
        prompt_length = 1
    elif template.startswith("qwen"):
        starts = _ids(tokenizer, "<|im_start|>assistant\n")
        stops = {tokenizer.convert_tokens_to_ids("<|im_end|>")}
        prompt_length = len(starts)
    else:
        starts = _ids(tokenizer, "<|start_header_id|>assistant<|end_header_id|>\n\n")
        stops = set(tokenizer.convert_tokens_to_ids(["<|eot_id|>", "<|eom_id|>"]))
        prompt_length = len(starts)
    mask = [0] * len(ids)
    for i in range(len(ids) - prompt_length + 1):
        if ids[i:i + prompt_length] != starts:
            continue
        j = i + prompt_length
        while j < len(ids):
            mask[j] = 1
            if ids[j] in stops:
                break
            j += 1
    return mask


def span_mask(encoding, index: int, spans: list[tuple[int, int]], length: int) -> list[int]:
    """Character spans → token mask, as ``apply_chat_template(return_assistant_tokens_mask=True)`` maps them."""
    mask = [0] * length
    for start, end in spans:
        first, last = encoding.char_to_token(index, start), encoding.char_to_token(index, end - 1)
        for position in range(first, (last if last is not None else length - 1) + 1):
            mask[position] = 1
    return mask


@pytest.mark.parametrize("template", TEMPLATES)
def test_generation_mask_equals_oracle_on_every_shared_conversation(template, capsys):
    tokenizer = load_tokenizer(FIXTURE[template])
    encodings = family_encodings(template)
    mismatches, trained = [], 0
    for index, case in enumerate(encodings.cases):
        ids = encodings.official_ids[index]
        expected = oracle_mask(template, ids, tokenizer)
        got = span_mask(encodings.ours, index, case.spans, len(encodings.ours["input_ids"][index]))
        trained += sum(got)
        if got != expected:
            mismatches.append(case.row["meta"]["shared_file"])
    with capsys.disabled():
        print(f"\n[masks] {template}: {len(encodings.cases) - len(mismatches)}/{len(encodings.cases)} conversations "
              f"match the oracle, {trained} trained tokens", end="")
    assert not mismatches, mismatches[:5]


def test_glm4_stop_token_after_a_final_assistant_turn(capsys):
    """``add_stop_token`` (named in the sidecar) appends <|observation|> after a call, <|user|> after text, trained."""
    kwarg = json.loads(_sidecar("glm4").read_text(encoding="utf-8"))["stop_token_kwarg"]
    assert kwarg == "add_stop_token"
    tokenizer = load_tokenizer("glm4")
    cases = [c for c in family_cases("glm4") if c.row["messages"][-1]["role"] == "assistant"][::5]
    assert len(cases) > 100
    for case in cases:
        last = case.row["messages"][-1]
        stop = "<|observation|>" if last.get("tool_calls") else "<|user|>"
        text, spans = render("glm4", case.row["messages"], tools_of(case.row), **{kwarg: True})
        assert text == official_render("glm4", case.row) + stop
        ids = _ids(tokenizer, text)
        assert ids[-1] == tokenizer.convert_tokens_to_ids(stop)
        encoding = tokenizer([text], add_special_tokens=False)
        assert span_mask(encoding, 0, spans, len(ids)) == oracle_mask("glm4", ids, tokenizer)
    with capsys.disabled():
        print(f"\n[masks] glm4 add_stop_token: {len(cases)}/{len(cases)} final turns end with a trained stop token",
              end="")


def _sidecar(name: str):
    from toolcall_templates.resources import resource_path

    return resource_path("jinja") / f"{name}.json"


@pytest.mark.parametrize("template", TEMPLATES)
def test_apply_chat_template_assistant_masks_agree(template):
    """transformers' own ``return_assistant_tokens_mask`` path gives the same masks (every 25th conversation)."""
    tokenizer = load_tokenizer(FIXTURE[template])
    source = get_template(template).source
    encodings = family_encodings(template)
    for index in range(0, len(encodings.cases), 25):
        case = encodings.cases[index]
        out = tokenizer.apply_chat_template(case.row["messages"], tools=tools_of(case.row), chat_template=source,
                                            tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                            **render_kwargs(template))
        assert out["input_ids"] == encodings.official_ids[index]
        assert out["assistant_masks"] == oracle_mask(template, out["input_ids"], tokenizer)


TURN = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "content": "18C"},
    {"role": "assistant", "content": "Paris: 18C."},
    {"role": "user", "content": "Thanks"},
    {"role": "assistant", "content": "You're welcome."},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
EXPECTED_TRAINED = {
    "qwen2.5": ['<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>',
                "Paris: 18C.<|im_end|>", "You're welcome.<|im_end|>"],
    "qwen3": ['<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>',
              "Paris: 18C.<|im_end|>", "<think>\n\n</think>\n\nYou're welcome.<|im_end|>"],
    "llama3.1": ['{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>', "Paris: 18C.<|eot_id|>",
                 "You're welcome.<|eot_id|>"],
    "llama3.2": ['{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>', "Paris: 18C.<|eot_id|>",
                 "You're welcome.<|eot_id|>"],
    "glm4": ['get_weather\n{"city": "Paris"}<|observation|>', "\nParis: 18C.<|user|>", "\nYou're welcome.<|user|>"],
}


@pytest.mark.parametrize("template", TEMPLATES)
def test_trained_tokens_of_a_known_conversation(template):
    """Readable check: trained runs decode to exactly the generated text, stop token included, nothing after it."""
    tokenizer = load_tokenizer(FIXTURE[template])
    kwargs = {"add_stop_token": True} if template == "glm4" else render_kwargs(template)
    out = tokenizer.apply_chat_template(TURN, tools=TOOLS, chat_template=get_template(template).source, tokenize=True,
                                        return_dict=True, return_assistant_tokens_mask=True, **kwargs)
    runs, current = [], []
    for token, trained in zip(out["input_ids"], out["assistant_masks"]):
        if trained:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    assert [tokenizer.decode(run) for run in runs] == EXPECTED_TRAINED[template]


@pytest.mark.parametrize("template", TEMPLATES)
def test_random_conversations_mask_equals_oracle(template):
    """Seeded random conversations (runs of assistant turns, parallel calls, empty turns) keep masks exact.

    Assistant text starting with a newline is left out for Qwen: BPE merges that newline with the ``\\n`` of
    ``<|im_start|>assistant\\n`` into one token, so no token boundary separates prompt from generation (see
    jinja/README.md)."""
    import random

    from test_template_parity import FUZZ_TEXTS, inexpressible_reason, random_conversation

    texts = tuple(t for t in FUZZ_TEXTS if not t.startswith("\n")) if template.startswith("qwen") else FUZZ_TEXTS
    tokenizer = load_tokenizer(FIXTURE[template])
    rng, compared = random.Random(template), 0
    for _ in range(300):
        messages, tools = random_conversation(rng, texts)
        if inexpressible_reason(template, {"messages": messages, "tools": tools or []}):
            continue
        try:
            text, spans = render(template, messages, tools, **render_kwargs(template))
        except TemplateError:  # Llama with tools and no user message: raises, as the official template does
            continue
        encoding = tokenizer([text], add_special_tokens=False)
        ids = encoding["input_ids"][0]
        assert span_mask(encoding, 0, spans, len(ids)) == oracle_mask(template, ids, tokenizer), messages
        compared += 1
    assert compared > 100
