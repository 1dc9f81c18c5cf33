"""Evaluation with a tokenizer's own chat template (TRL's originals): the prompt is the template's inference prompt, the
parser is the shipped one that reads back a call the template renders, and the reference turn as the template
renders it scores an exact match; a template whose calls no shipped parser reads is refused with what to pass."""

from __future__ import annotations

import pytest

from own_template_families import FAMILIES, family_tokenizer

from toolcall_templates.evaluation import eval_template, score_turn

PARSER_FAMILY = {
    "qwen2_5": "qwen", "qwen3": "qwen", "qwen3_instruct_2507": "qwen", "qwen3_vl": "qwen",
    "qwen3_5_think": "qwen_xml", "qwen3_5_nothink": "qwen_xml", "qwen3_6": "qwen_xml", "qwen3_8": "qwen_xml",
    "nemotron_3_nano": "qwen_xml", "llama3_1": "llama3", "llama3_2": "llama3", "glm4moe": "glm45",
}
NO_PARSER = ("gptoss", "gemma4", "lfm2_v2", "muse_glimmer")
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city"]}}}]
CALL = {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris",
                                                                                              "days": 3}}}
MESSAGES = [{"role": "user", "content": "Weather in Paris for three days?"},
            {"role": "assistant", "content": "", "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_0", "name": "get_weather", "content": "sunny"}]


def own(name):
    family = FAMILIES[name]
    tokenizer = family_tokenizer(name)
    return tokenizer, family, eval_template("own", tokenizer, template_kwargs=family.template_kwargs,
                                            stop_tokens=family.stop_tokens)


@pytest.mark.parametrize("name", sorted(PARSER_FAMILY))
def test_the_own_templates_call_turn_reads_back_exactly(name):
    tokenizer, family, template = own(name)
    assert template.name == "own" and template.parser.family == PARSER_FAMILY[name]
    assert template.stop_tokens == family.stop_tokens
    prompt = template.prompt(MESSAGES[:1], TOOLS)
    assert prompt == tokenizer.apply_chat_template(MESSAGES[:1], tools=TOOLS, tokenize=False,
                                                   add_generation_prompt=True, **family.template_kwargs)
    whole = tokenizer.apply_chat_template(MESSAGES, tools=TOOLS, tokenize=False, **family.template_kwargs)
    if not whole.startswith(prompt):  # a think block only the prompt opens: the turn as generated with reasoning
        reasoning = [MESSAGES[0], {**MESSAGES[1], "reasoning_content": "Checking."}, MESSAGES[2]]
        whole = tokenizer.apply_chat_template(reasoning, tools=TOOLS, tokenize=False, **family.template_kwargs)
    assert whole.startswith(prompt)
    turn, parse_error = template.parse(whole[len(prompt):], TOOLS)
    score = score_turn([CALL], turn["tool_calls"], TOOLS, stopped=True, parse_error=parse_error)
    assert parse_error is None and score.exact_match and score.valid_calls == 1, turn


@pytest.mark.parametrize("name", NO_PARSER)
def test_a_call_format_no_shipped_parser_reads_asks_for_one(name):
    tokenizer = family_tokenizer(name)
    family = FAMILIES[name]
    with pytest.raises(ValueError, match=r"no shipped parser reads the tool call .* pass parser= \(--parser\)"):
        eval_template("own", tokenizer, template_kwargs=family.template_kwargs, stop_tokens=family.stop_tokens)
    chosen = eval_template("own", tokenizer, template_kwargs=family.template_kwargs, stop_tokens=family.stop_tokens,
                           parser="qwen2.5")
    assert chosen.parser.name == "qwen2.5"


def test_a_shipped_template_needs_no_tokenizer_and_own_needs_one():
    assert eval_template("glm4").stop_tokens == ("<|user|>", "<|observation|>", "<|endoftext|>")
    with pytest.raises(ValueError, match="without a tokenizer the template must be a shipped one"):
        eval_template("own")
