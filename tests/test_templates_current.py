"""The current-generation templates (GLM-4.5/4.6, Qwen3-Instruct-2507, Qwen3.5, Qwen3.6, Qwen3.8) render byte for
byte as their originals, on every shared conversation and every flag they take.

Oracles: TRL's shipped originals (``trl/chat_templates/glm4moe.jinja``, ``qwen3_instruct_2507.jinja``,
``qwen3_5_think.jinja``, ``qwen3_5_nothink.jinja``, ``qwen3_6.jinja``, ``qwen3_8.jinja``), rendered by transformers.
The tokenizers of these models are not in ``../shared``: parity is tested on the text (identical text is identical
ids for any tokenizer); token masks use stand-in tokenizers (``test_template_masks_current.py``). A conversation the
original raises on is skipped and counted. ``chatml-llamafactory`` has its own oracle, LLaMA-Factory itself
(``test_llamafactory_template.py``).

The helpers here (``CURRENT``, ``FLAGS``, ``current_cases``, ...) are reused by the other ``*_current`` tests.
"""

from __future__ import annotations

import copy
import json
import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import TemplateError

from test_template_parity import Case, FUZZ_TEXTS, random_conversation, render_source, shared_rows, tools_of
from toolcall_templates.resources import resource_path
from toolcall_templates.templates import get_template, list_templates, render

CURRENT = {
    "glm4.5": "glm4moe.jinja",
    "qwen3-instruct-2507": "qwen3_instruct_2507.jinja",
    "qwen3.5": "qwen3_5_think.jinja",
    "qwen3.5-nothink": "qwen3_5_nothink.jinja",
    "qwen3.6": "qwen3_6.jinja",
    "qwen3.8": "qwen3_8.jinja",
}
"""Each template and TRL's shipped original it reproduces."""
THINKING = ({"enable_thinking": False}, {"enable_thinking": True})
FLAGS: dict[str, tuple[dict[str, Any], ...]] = {
    "glm4.5": ({}, *THINKING),
    "qwen3-instruct-2507": ({},),
    "qwen3.5": ({}, *THINKING),
    "qwen3.5-nothink": ({}, *reversed(THINKING)),
    "qwen3.6": ({}, *THINKING, {"preserve_thinking": True}, {"preserve_thinking": True, "enable_thinking": False}),
    "qwen3.8": ({}, *THINKING, {"preserve_thinking": False}, {"reasoning_effort": "medium"},
                {"reasoning_effort": "low", "preserve_thinking": False}),
}
"""Render arguments each template is compared under (the defaults first, then the other thinking mode)."""
FLAG_SAMPLE = 8
"""Non-default flags are compared on every FLAG_SAMPLE-th shared conversation (the defaults on all of them)."""


@lru_cache(maxsize=None)
def trl_original(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / CURRENT[name]).read_text(encoding="utf-8")


def flag_label(kwargs: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"


def _case(name: str, row: dict, kwargs: dict[str, Any]) -> Case:
    try:
        official = render_source(trl_original(name), row["messages"], tools_of(row), **kwargs)
    except TemplateError as exc:
        return Case(row, f"the original raises: {exc}", None, None, [])
    ours, spans = render(name, row["messages"], tools_of(row), **kwargs)
    return Case(row, None, official, ours, spans)


@lru_cache(maxsize=None)
def current_cases(name: str, flags: str = "defaults") -> tuple[Case, ...]:
    """The original's and our rendering of the shared conversations (all of them with the defaults, a sample with
    other flags)."""
    kwargs = next(k for k in FLAGS[name] if flag_label(k) == flags)
    rows = shared_rows() if not kwargs else shared_rows()[::FLAG_SAMPLE]
    return tuple(_case(name, row, kwargs) for row in rows)


def first_difference(ours: str | None, official: str | None) -> str:
    ours, official = ours or "", official or ""
    index = next((i for i, (a, b) in enumerate(zip(ours, official)) if a != b), min(len(ours), len(official)))
    return f"at {index}: official {official[index - 60:index + 60]!r} / ours {ours[index - 60:index + 60]!r}"


def _report(line: str, capsys: pytest.CaptureFixture) -> None:
    with capsys.disabled():
        print(f"\n[parity] {line}", end="")


# ---------------------------------------------------------------- parity -----------------------------------------
def test_every_current_template_is_shipped_with_a_sidecar():
    shipped = set(list_templates())
    assert set(CURRENT) | {"chatml-llamafactory"} <= shipped
    for name in CURRENT:
        assert (resource_path("jinja") / f"{name}.json").is_file()


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_text_equals_the_original_on_every_shared_conversation(name, capsys):
    results = []
    for kwargs in FLAGS[name]:
        cases = current_cases(name, flag_label(kwargs))
        expressible = [c for c in cases if c.skip_reason is None]
        equal = sum(c.ours == c.official for c in expressible)
        results.append(f"{flag_label(kwargs)} {equal}/{len(expressible)}"
                       + (f" (original raises on {len(cases) - len(expressible)})" if len(cases) > len(expressible)
                          else ""))
        bad = next((c for c in expressible if c.ours != c.official), None)
        assert bad is None, (flag_label(kwargs), bad.row["meta"]["shared_file"],
                             first_difference(bad.ours, bad.official))
        assert len(expressible) > (2000 if not kwargs else 250)
    _report(f"{name} vs trl/chat_templates/{CURRENT[name]}: " + "; ".join(results), capsys)


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_random_conversations_and_generation_prompts_equal_the_original(name, capsys):
    """Seeded conversations of unusual shapes (runs of one role, empty turns, reasoning, ``</think>`` in content,
    parallel calls), with and without the generation prompt, under every flag, wherever the original accepts them."""
    rng, compared = random.Random(name), 0
    for index in range(160):
        messages, tools = random_conversation(rng)
        kwargs = FLAGS[name][index % len(FLAGS[name])]
        for add_generation_prompt in (False, True):
            try:
                expected = render_source(trl_original(name), messages, tools,
                                         add_generation_prompt=add_generation_prompt, **kwargs)
            except (TemplateError, TypeError):
                continue
            ours = render(name, messages, tools, add_generation_prompt=add_generation_prompt, **kwargs)[0]
            assert ours == expected, (kwargs, messages, first_difference(ours, expected))
            compared += 1
    _report(f"{name} random conversations: {compared}/{compared}", capsys)
    assert compared > 100


def test_glm46_revision_is_reproduced_too(capsys):
    """GLM-4.6's official template differs from GLM-4.5's (TRL's glm4moe.jinja) in one expression, ``tc.arguments or
    {}``: it accepts calls without arguments. glm4.5 renders both revisions' output."""
    original = trl_original("glm4.5")
    assert original.count("{% set _args = tc.arguments %}") == 1
    glm46 = original.replace("{% set _args = tc.arguments %}", "{% set _args = tc.arguments or {} %}")
    cases = [c for c in current_cases("glm4.5") if c.skip_reason is None]
    equal = sum(render_source(glm46, c.row["messages"], tools_of(c.row)) == c.ours for c in cases)
    no_arguments = [{"role": "user", "content": "now?"}, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_time", "arguments": None}}]}]
    assert render("glm4.5", no_arguments)[0] == render_source(glm46, no_arguments, None)
    _report(f"glm4.5 vs the GLM-4.6 revision: {equal}/{len(cases)}", capsys)
    assert equal == len(cases)


def test_qwen35_nothink_differs_from_qwen35_only_in_the_thinking_default():
    """Both files are self-contained (each works installed on a tokenizer) and must not drift apart."""
    def body(name: str) -> list[str]:
        source = get_template(name).source
        return source[source.index("-#}") + 3:].splitlines()  # after the leading description comment

    think, nothink = body("qwen3.5"), body("qwen3.5-nothink")
    assert len(think) == len(nothink)
    assert [(a, b) for a, b in zip(think, nothink) if a != b] == [(
        "{%- set thinking_off = enable_thinking is defined and enable_thinking is false %}",
        "{%- set thinking_off = not (enable_thinking is defined and enable_thinking is true) %}",
    )]


JSON_BLOCK = re.compile(r"\{#- ===== JSON text.*?macro tool_json.*?endmacro -%\}", re.DOTALL)


def test_the_json_text_macros_are_the_same_in_every_template():
    """Each template carries its own copy of the JSON-text macros (a template installed on a tokenizer cannot import
    another); the copies must not drift apart."""
    blocks = {name: JSON_BLOCK.search(get_template(name).source) for name in [*CURRENT, "chatml-llamafactory"]}
    assert all(blocks.values()), [name for name, block in blocks.items() if not block]
    assert len({block.group(0) for block in blocks.values()}) == 1


# ---------------------------------------------------------------- input shapes -----------------------------------
def _string_spelled(row: dict, **dumps_kwargs: Any) -> dict:
    row = copy.deepcopy(row)
    for message in row["messages"]:
        for call in message.get("tool_calls") or []:
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"], **dumps_kwargs)
    for tool in row["tools"] or []:
        tool["function"]["parameters"] = json.dumps(tool["function"]["parameters"], **dumps_kwargs)
    return row


@pytest.mark.parametrize("name", [*sorted(CURRENT), "chatml-llamafactory"])
def test_json_text_arguments_and_parameters_render_as_their_mapping_form(name):
    """Arguments and parameters given as JSON text (compact, ASCII-escaped, pretty) render exactly as the mapping
    they decode to: the templates parse the text (``json.loads`` semantics, numbers included)."""
    rows = [row for row in shared_rows() if row["tools"] and any(m.get("tool_calls") for m in row["messages"])]
    sample = rows[::50]
    assert len(sample) >= 15
    for row in sample:
        expected = render(name, row["messages"], tools_of(row))
        for dumps_kwargs in ({}, {"indent": 2, "ensure_ascii": False, "separators": (",", ":")}):
            spelled = _string_spelled(row, **dumps_kwargs)
            assert render(name, spelled["messages"], tools_of(spelled)) == expected, (name, dumps_kwargs)


@pytest.mark.parametrize("name", [*sorted(CURRENT), "chatml-llamafactory"])
def test_arguments_that_are_not_a_json_object_are_refused_with_the_reason(name):
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "lookup", "arguments": '{"word": "kettle"'}}]}]
    if name == "qwen3-instruct-2507":  # the original inserts string arguments verbatim: so does this template
        assert '"arguments": {"word": "kettle"}\n</tool_call>' in render(name, messages, None)[0]
        return
    with pytest.raises(TemplateError, match="lookup.*not (a )?JSON"):
        render(name, messages, None)


EMPTY_CONTENT = {"empty": "", "null": None, "absent": ...}


def _with_content(messages: list[dict], form: Any) -> list[dict]:
    out = []
    for message in messages:
        if message["role"] in ("assistant", "tool") and not message.get("content"):
            message = {k: v for k, v in message.items() if k != "content"}
            if form is not ...:
                message["content"] = form
        out.append(message)
    return out


NULL_CONTENT_CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris and the time in Oslo?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "b", "type": "function", "function": {"name": "get_time", "arguments": {"city": "Oslo"}}}]},
    {"role": "tool", "tool_call_id": "a", "name": "get_weather", "content": None},
    {"role": "tool", "tool_call_id": "b", "name": "get_time", "content": "14:05"},
    {"role": "assistant", "content": "Paris: no data; Oslo: 14:05."},
]
WEATHER_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city.", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Local time of a city.", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
]


@pytest.mark.parametrize("name", [*sorted(CURRENT), "chatml-llamafactory"])
def test_null_absent_and_empty_content_render_alike_through_apply_chat_template(name):
    """OpenAI-shaped messages (``content: null`` next to calls, a null tool result, JSON-text arguments) through
    ``tokenizer.apply_chat_template`` (transformers drops None-valued keys) and through ``templates.render`` (None
    reaches the template): the same text as ``content: ""``."""
    from test_template_masks_current import stand_in_for

    tokenizer = stand_in_for(name)
    source = get_template(name).source
    texts = set()
    for form in EMPTY_CONTENT.values():
        messages = _with_content(NULL_CONTENT_CONVERSATION, form)
        texts.add(tokenizer.apply_chat_template(messages, tools=WEATHER_TOOLS, chat_template=source, tokenize=False))
        texts.add(render(name, messages, WEATHER_TOOLS)[0])
    assert len(texts) == 1, name
    assert "get_time" in texts.pop()


def test_unknown_roles_are_refused_with_their_name():
    for name in [*CURRENT, "chatml-llamafactory"]:
        with pytest.raises(TemplateError, match="narrator"):
            render(name, [{"role": "user", "content": "hi"}, {"role": "narrator", "content": "..."}], None)


def test_fuzz_texts_cover_reasoning_markers():
    assert any("</think>" in text for text in FUZZ_TEXTS)
