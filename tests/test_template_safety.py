"""Templates run in transformers' sandboxed Jinja environment and treat every piece of data as text: Jinja syntax in
messages, tool definitions or arguments renders literally and is never evaluated. Also: input the templates must
survive (JSON text with any escapes, degenerate conversations) and malformed input to the GLM-native conversion."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from test_template_parity import TEMPLATES, official_render, render_kwargs
from toolcall_templates.errors import InvalidRecord
from toolcall_templates.glm_native import to_glm_messages
from toolcall_templates.templates import get_template, render

PAYLOADS = [
    "{{ 7*7 }}",
    "{% raw %}{{ 7*7 }}{% endraw %}",
    "{% for i in range(3) %}loop{% endfor %}",
    "{# not a comment #}",
    "{%- generation %}fake{%- endgeneration %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ raise_exception('boom') }}",
    "{% set messages = [] %}",
]


def conversation(payload: str) -> tuple[list[dict], list[dict]]:
    tools = [{"type": "function", "function": {
        "name": "lookup", "description": f"Look up. {payload}",
        "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": payload}},
                       "required": ["q"]}}}]
    messages = [
        {"role": "system", "content": f"System {payload}"},
        {"role": "user", "content": f"User {payload}"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "lookup", "arguments": {"q": payload}}}]},
        {"role": "tool", "content": f"Result {payload}"},
        {"role": "assistant", "content": f"Answer {payload}"},
    ]
    return messages, tools


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("template", TEMPLATES)
def test_jinja_syntax_in_data_renders_literally(template, payload):
    messages, tools = conversation(payload)
    text, spans = render(template, messages, tools, **render_kwargs(template))
    for expected in (f"User {payload}", f"Answer {payload}", f"Look up. {json.dumps(payload)[1:-1]}"):
        assert expected in text
    assert "49" not in text and "loop" * 3 not in text
    assert len(spans) == 2
    row = {"messages": messages, "tools": tools}
    assert text == official_render(template, row)


@pytest.mark.parametrize("template", TEMPLATES)
def test_jinja_syntax_in_json_text_arguments_and_reasoning(template):
    payload = "{{ 7*7 }}{% raw %}"
    messages, tools = conversation(payload)
    messages[2]["tool_calls"][0]["function"]["arguments"] = json.dumps({"q": payload})
    tools[0]["function"]["parameters"] = json.dumps(tools[0]["function"]["parameters"])
    messages[-1]["reasoning_content"] = f"Thinking {payload}"
    text, _ = render(template, messages, tools, **render_kwargs(template))
    assert f'"q": "{payload}"' in text and "49" not in text
    if template == "qwen3":
        assert f"Thinking {payload}" in text


@pytest.mark.parametrize("template", TEMPLATES)
def test_control_token_text_in_content_stays_text(template):
    """A user typing a control token gets it rendered verbatim (what to do about it is the tokenizer's policy)."""
    messages = [{"role": "user", "content": "<|im_end|><|eot_id|><|observation|>[gMASK]"},
                {"role": "assistant", "content": "ok"}]
    text, spans = render(template, messages, None, **render_kwargs(template))
    assert "<|im_end|><|eot_id|><|observation|>[gMASK]" in text
    assert len(spans) == 1 and "ok" in text[spans[0][0]:spans[0][1]]
    assert "<|im_end|><|eot_id|>" not in text[spans[0][0]:spans[0][1]]


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_source_compiles_in_a_plain_immutable_sandbox(template):
    """No sandbox-unsafe construct: the source compiles in jinja2's own ImmutableSandboxedEnvironment too, and it
    reads no dunder attribute nor mutates data in place."""
    source = get_template(template).source
    environment = ImmutableSandboxedEnvironment(extensions=["jinja2.ext.loopcontrols"])
    environment.parse(source.replace("{%- generation %}", "").replace("{%- endgeneration %}", ""))
    assert "__" not in source
    assert ".append(" not in source and ".update(" not in source and ".pop(" not in source


@pytest.mark.parametrize("template", TEMPLATES)
def test_unsupported_input_fails_with_a_clear_message(template):
    """Roles no template knows are rejected by name (Qwen), or rendered as their own header as officially (Llama)."""
    messages = [{"role": "user", "content": "hi"}, {"role": "critic", "content": "meh"},
                {"role": "assistant", "content": "ok"}]
    if template.startswith("qwen"):
        with pytest.raises(Exception, match="unsupported message role 'critic'"):
            render(template, messages, None)
    else:
        text, _ = render(template, messages, None, **render_kwargs(template))
        assert "critic" in text and "meh" in text


# ---------------------------------------------------------------- robustness --------------------------------------
def _random_json_value(rng, depth: int = 0) -> Any:
    alphabet = 'ab "\\/\n\t\x01\x1f中😀é{}[],:'
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
    roll = rng.random()
    if depth > 2 or roll < 0.45:
        return rng.choice([text, rng.randint(-10**6, 10**12), rng.random() * 100, True, False, None, -0.5])
    if roll < 0.75:
        return {"".join(rng.choice(alphabet) for _ in range(3)): _random_json_value(rng, depth + 1)
                for _ in range(rng.randint(0, 3))}
    return [_random_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


@pytest.mark.parametrize("template", TEMPLATES)
def test_json_text_with_escapes_renders_as_its_mapping_form(template):
    """Control characters, quotes, backslashes, ``\\/``, ``\\uXXXX`` and surrogate pairs, in every JSON spelling."""
    rng = random.Random(template)
    spellings = ({}, {"separators": (",", ":")}, {"indent": 3}, {"ensure_ascii": False})
    for _ in range(40):
        arguments = {"k": _random_json_value(rng), "é": _random_json_value(rng)}
        parameters = {"type": "object", "properties": {"k": {"description": _random_json_value(rng)}}}
        tools = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": parameters}}]
        call = {"function": {"name": "f", "arguments": arguments}}
        messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [call]}]
        expected = render(template, messages, tools, **render_kwargs(template))[0]
        for spelling in spellings:
            text_messages = [messages[0], {**messages[1], "tool_calls": [{"function": {
                "name": "f", "arguments": json.dumps(arguments, **spelling).replace("/", "\\/")}}]}]
            text_tools = [{"type": "function", "function": {**tools[0]["function"],
                                                            "parameters": json.dumps(parameters, **spelling)}}]
            assert render(template, text_messages, text_tools, **render_kwargs(template))[0] == expected, spelling


@pytest.mark.parametrize("text", ["not json", "{'a': 1}", '{"a": 1} trailing', '{"a": "unterminated}', "[1, 2"])
def test_text_that_is_not_one_json_value_is_inserted_verbatim(text):
    messages = [{"role": "user", "content": "q"},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": text}}]}]
    assert f'"arguments": {text}}}' in render("qwen2.5", messages, None)[0]


@pytest.mark.parametrize("template", TEMPLATES)
def test_degenerate_conversations_render_without_crashing(template):
    kwargs = render_kwargs(template)
    assert render(template, [], None, **kwargs)[1] == []
    text, spans = render(template, [{"role": "user", "content": None}, {"role": "assistant", "content": None}], None,
                        **kwargs)
    assert isinstance(text, str) and len(spans) == (0 if template == "glm4" else 1)
    text, _ = render(template, [{"role": "user", "content": {"structured": ["content", 1]}}], None, **kwargs)
    assert '{"structured": ["content", 1]}' in text


def test_to_glm_messages_maps_every_canonical_piece():
    tools = [{"name": "add", "description": "Add.", "parameters": '{"type": "object", "properties": {}}'}]
    messages = [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "1+1 和 2+2?"},
        {"role": "assistant", "content": "计算中。", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "add", "arguments": '{"x": 1, "y": 1}'}},
            {"id": "b", "type": "function", "function": {"name": "add", "arguments": {"x": 2, "y": "二"}}}]},
        {"role": "tool", "tool_call_id": "a", "name": "add", "content": "2"},
        {"role": "tool", "tool_call_id": "b", "name": "add", "content": "4"},
        {"role": "assistant", "content": None},
    ]
    assert to_glm_messages(messages, tools) == [
        {"role": "system", "content": "Be exact.", "tools": [{"type": "function", "function": {
            "name": "add", "description": "Add.", "parameters": {"type": "object", "properties": {}}}}]},
        {"role": "user", "content": "1+1 和 2+2?"},
        {"role": "assistant", "content": "计算中。"},
        {"role": "assistant", "metadata": "add", "content": '{"x": 1, "y": 1}'},
        {"role": "assistant", "metadata": "add", "content": '{"x": 2, "y": "二"}'},
        {"role": "observation", "content": "2"},
        {"role": "observation", "content": "4"},
        {"role": "assistant", "content": ""},
    ]
    assert to_glm_messages(messages[1:2], tools)[0] == {"role": "system", "content": "", "tools": to_glm_messages(
        messages, tools)[0]["tools"]}
    assert to_glm_messages(messages[1:2], []) == [messages[1]]


@pytest.mark.parametrize(("messages", "reason"), [
    ([{"role": "critic", "content": "x"}], "unsupported role 'critic'"),
    ([{"content": "x"}], "unsupported role None"),
    (["text"], r"messages\[0\] is not an object"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"function": {"arguments": {}}}]}], "no function name"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}],
     "tool_calls\\[0\\]: tool-call arguments decode to list"),
    ([{"role": "user", "content": {1, 2}}], "unsupported content type"),
])
def test_to_glm_messages_rejects_malformed_input(messages, reason):
    with pytest.raises(InvalidRecord, match=reason):
        to_glm_messages(messages)


def test_render_plain_matches_render_and_falls_back_for_non_plain_data():
    from collections import OrderedDict

    from toolcall_templates.templates import is_plain_json, render, render_plain

    messages = [{"role": "user", "content": "{{ 7*7 }} 北京"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c0", "type": "function", "function": {"name": "f", "arguments": {"x": 0.3}}}]},
                {"role": "tool", "tool_call_id": "c0", "name": "f", "content": "{% raw %}"},
                {"role": "assistant", "content": "done"}]
    for name in ("qwen2.5", "glm4", "llama3.1"):
        assert render_plain(name, messages, None) == render(name, messages, None)
    odd = [OrderedDict(m) for m in messages]
    assert not is_plain_json(odd) and render_plain("qwen2.5", odd) == render("qwen2.5", messages)
