"""``parse_tool_calls(render(turn)) == turn`` for every assistant turn of the shared conversations, and malformed model
output gives ToolCallParseError or the raw content, never another exception."""

from __future__ import annotations

import random

import pytest

from test_template_parity import TEMPLATES, family_cases, render_kwargs, tools_of
from toolcall_templates.parsing import ToolCallParseError, parse_assistant, parse_tool_calls
from toolcall_templates.templates import render

TEMPLATE_KEEPS_REASONING = {"qwen3"}


def expected_turn(template: str, message: dict) -> dict:
    """What the template's generated text carries of an assistant message (never ids).

    Qwen: a leading ``<think>`` block is reasoning; Qwen3 also renders ``reasoning_content`` and, like its official
    template, reads text before a ``</think>`` in the content as reasoning. Llama's template trims the text. The other
    templates do not render ``reasoning_content``.
    """
    content = message.get("content") or ""
    reasoning = None
    if template == "qwen3":
        reasoning = message.get("reasoning_content")
        if reasoning is None and "</think>" in content:
            reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
            content = content.split("</think>")[-1].lstrip("\n")
        reasoning, content = (reasoning or "").strip("\n"), content.lstrip("\n")
    elif template == "qwen2.5":
        leading = content.lstrip("\n")
        if leading.startswith("<think>") and "</think>" in leading:
            thought, _, content = leading[len("<think>"):].partition("</think>")
            reasoning, content = thought.strip("\n"), content.lstrip("\n")
    elif template.startswith("llama"):
        content = content.strip()
    calls = [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []]
    return {"content": content, "tool_calls": calls, "reasoning_content": reasoning or None}


def parsed_turn(text: str, template: str) -> dict:
    turn = parse_assistant(text, template)
    calls = [(c["function"]["name"], c["function"]["arguments"]) for c in turn["tool_calls"]]
    return {"content": turn["content"], "tool_calls": calls, "reasoning_content": turn.get("reasoning_content")}


def generated_texts(template: str, **kwargs):
    """``(message, generated text)`` for every assistant turn, rendered as the last turn of its conversation prefix."""
    for case in family_cases(template):
        if case.skip_reason:
            continue
        messages = case.row["messages"]
        for index, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prefix = messages[:index + 1]
            text, spans = render(template, prefix, tools_of(case.row), **render_kwargs(template), **kwargs)
            if spans and len(text) - spans[-1][1] <= 1:  # the last turn renders (Qwen adds one "\n" after it)
                yield message, text[spans[-1][0]:spans[-1][1]]


@pytest.mark.parametrize("template", TEMPLATES)
def test_round_trip_of_every_shared_assistant_turn(template, capsys):
    kwargs = {"add_stop_token": True} if template == "glm4" else {}
    total, failures = 0, []
    for message, generated in generated_texts(template, **kwargs):
        total += 1
        if parsed_turn(generated, template) != expected_turn(template, message):
            failures.append(generated)
    with capsys.disabled():
        print(f"\n[round trip] {template}: {total - len(failures)}/{total} assistant turns", end="")
    assert total > 1000 and not failures, failures[:3]


def test_round_trip_keeps_reasoning_calls_and_chinese():
    calls = [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "北京"}}},
             {"type": "function", "function": {"name": "get_time", "arguments": {"tz": "Asia/Shanghai"}}}]
    message = {"role": "assistant", "content": "我来查一下。", "reasoning_content": "用户想知道天气。\n先查北京。",
               "tool_calls": calls}
    conversation = [{"role": "user", "content": "北京天气和时间？"}, message]
    for template in TEMPLATES:
        text, spans = render(template, conversation, None, **render_kwargs(template))
        assert parsed_turn(text[spans[-1][0]:spans[-1][1]], template) == expected_turn(template, message), template


def test_parse_tool_calls_returns_content_and_calls():
    content, calls = parse_tool_calls('Sure.\n<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}\n</tool_call>'
                                      "<|im_end|>", "qwen2.5")
    assert content == "Sure."
    assert calls == [{"id": "call_0", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]
    content, calls = parse_tool_calls("\nJust text.<|user|>", "glm4")
    assert (content, calls) == ("Just text.", [])


@pytest.mark.parametrize(("template", "text", "message"), [
    ("qwen2.5", '<tool_call>\n{"name": "f", "arguments": {"a": 1}', "unterminated <tool_call>"),
    ("qwen2.5", "<tool_call>\n{name: f}\n</tool_call>", "not JSON"),
    ("qwen2.5", '<tool_call>\n["f"]\n</tool_call>', "must be a JSON object"),
    ("qwen2.5", '<tool_call>\n{"arguments": {}}\n</tool_call>', "no function name"),
    ("qwen2.5", 'done</tool_call>', "without a matching"),
    ("qwen3", '<tool_call>\n{"name": "f", "arguments": [1]}\n</tool_call>', "arguments of 'f'"),
    ("llama3.1", '{"name": "f", "parameters": {"a": 1}', "not valid JSON"),
    ("llama3.2", '<|python_tag|>{"name": "f", "parameters": ', "not valid JSON"),
    ("glm4", "python\nprint(1)<|observation|>", "not a JSON object"),
    ("glm4", 'f\n{"a": 1<|observation|>', "call to 'f'"),
])
def test_malformed_calls_raise_a_clear_error(template, text, message):
    with pytest.raises(ToolCallParseError, match=message):
        parse_assistant(text, template)


@pytest.mark.parametrize(("template", "text"), [
    ("qwen2.5", "I cannot call tools for that."),
    ("qwen3", "<think>\n\n</think>\n\nPlain answer."),
    ("qwen3", "<think>\nstopped mid-thought"),
    ("llama3.1", '{"name": "Ada", "age": 36}'),
    ("llama3.1", "The JSON is {\"a\": 1}."),
    ("glm4", "no newline at all"),
])
def test_text_that_is_not_a_call_is_returned_as_content(template, text):
    turn = parse_assistant(text, template)
    assert turn["tool_calls"] == [] and turn["content"]


def test_llama_builtin_and_code_interpreter_calls():
    turn = parse_assistant('<|python_tag|>brave_search.call(query="weather in 巴黎")<|eom_id|>', "llama3.1")
    assert [c["function"] for c in turn["tool_calls"]] == [
        {"name": "brave_search", "arguments": {"query": "weather in 巴黎"}}]
    turn = parse_assistant("<|python_tag|>import math\nprint(math.pi)<|eom_id|>", "llama3.1")
    assert turn["tool_calls"][0]["function"] == {"name": "code_interpreter",
                                                 "arguments": {"code": "import math\nprint(math.pi)"}}
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "brave_search", "arguments": {"query": "x"}}}]}]
    text, spans = render("llama3.1", messages, None, builtin_tools=["brave_search"], date_string="26 Jul 2024")
    generated = text[spans[-1][0]:spans[-1][1]]
    assert generated == '<|python_tag|>brave_search.call(query="x")<|eom_id|>'
    assert parsed_turn(generated, "llama3.1")["tool_calls"] == [("brave_search", {"query": "x"})]


@pytest.mark.parametrize("template", TEMPLATES)
def test_truncated_and_corrupted_output_never_crashes(template):
    """Every prefix and random corruption of real generated text parses or raises ToolCallParseError."""
    rng = random.Random(template)
    samples = [text for _, text in generated_texts(template)][::40]
    noise = ["<tool_call>", "</tool_call>", "<think>", "</think>", "<|python_tag|>", "<|assistant|>", "{", "}", "\"",
             "\n", ";", "\\", "name", ":", "<|im_end|>", "<|observation|>", "(", ")", "\x00", "中"]
    checked = 0
    for text in samples:
        variants = [text[:cut] for cut in range(0, len(text), max(1, len(text) // 25))]
        for _ in range(10):
            position = rng.randrange(len(text) + 1)
            variants.append(text[:position] + rng.choice(noise) + text[position:])
        for variant in variants:
            try:
                turn = parse_assistant(variant, template)
            except ToolCallParseError:
                continue
            assert isinstance(turn["content"], str) and isinstance(turn["tool_calls"], list)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("template", TEMPLATES)
def test_non_text_input_is_rejected_clearly(template):
    with pytest.raises(ToolCallParseError, match="must be a string"):
        parse_assistant(None, template)  # type: ignore[arg-type]
