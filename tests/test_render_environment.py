"""The shipped templates rendered outside the sandbox (``render_environment``) give exactly transformers' output.

Reference: ``templates.render``, i.e. transformers' ``render_jinja_template`` in its sandbox. Compared on every shared
conversation for every shipped template: the text and the generation spans, or the same error. Also: the stop-token
argument, reasoning aliasing, generation prompts, the indented-``tojson`` memo, and that other template text never
leaves the sandbox.
"""

from __future__ import annotations

import json

import pytest
from conftest import requires_shared

from toolcall_templates.render_environment import (
    _tojson,
    compile_shipped,
    is_shipped_source,
)
from toolcall_templates.templates import (
    ChatTemplate,
    get_template,
    list_templates,
    render,
    render_plain,
)

DATE_KWARGS = {"date_string": "26 Jul 2024"}


def _outcome(fn, *args, **kwargs):
    try:
        text, spans = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return type(exc).__name__, str(exc)
    return text, [tuple(span) for span in spans]


def _kwargs(name: str) -> dict:
    template = get_template(name)
    kwargs = dict(DATE_KWARGS) if template.family == "llama3" else {}
    if template.stop_token_kwarg:
        kwargs[template.stop_token_kwarg] = True
    return kwargs


@requires_shared
@pytest.mark.parametrize("name", list_templates())
def test_every_shared_conversation_renders_as_in_the_sandbox(name):
    from test_template_parity import shared_rows, tools_of

    rows = shared_rows()
    assert len(rows) > 2000
    kwargs = _kwargs(name)
    mismatches, rendered = [], 0
    for row in rows:
        expected = _outcome(render, name, row["messages"], tools_of(row), **kwargs)
        got = _outcome(render_plain, name, row["messages"], tools_of(row), **kwargs)
        rendered += isinstance(expected[1], list) and bool(expected[0])
        if got != expected:
            mismatches.append(row["id"])
    assert not mismatches, f"{len(mismatches)} conversations differ, e.g. {mismatches[:5]}"
    assert rendered > 1500  # most rows render (the rest raise alike): the comparison is not vacuous


@pytest.mark.parametrize("name", list_templates())
@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_generation_prompt_reasoning_and_errors_match(name, add_generation_prompt):
    conversations = [
        [{"role": "system", "content": "be brief"},
         {"role": "user", "content": "{{ 7*7 }} 北京 <think>x</think>"},
         {"role": "assistant", "content": "", "reasoning_content": "think first",
          "tool_calls": [{"id": "c0", "type": "function", "function": {"name": "f", "arguments": {"x": 0.3}}}]},
         {"role": "tool", "tool_call_id": "c0", "name": "f", "content": "{% raw %}"},
         {"role": "assistant", "content": "done", "thinking": "older name for reasoning"}],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "reasoning": "only reasoning"}],
        [{"role": "nobody", "content": "an unknown role"}],
        [{"role": "user", "content": "hi"}],
    ]
    tools = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
        "type": "object", "properties": {"x": {"type": "number", "description": "ü"}}, "required": ["x"]}}}]
    kwargs = _kwargs(name)
    for messages in conversations:
        for row_tools in (None, tools):
            expected = _outcome(render, name, messages, row_tools, add_generation_prompt=add_generation_prompt,
                                **kwargs)
            got = _outcome(render_plain, name, messages, row_tools, add_generation_prompt=add_generation_prompt,
                           **kwargs)
            assert got == expected, (name, messages)


def test_only_shipped_template_text_leaves_the_sandbox():
    assert all(is_shipped_source(get_template(name).source) for name in list_templates())
    custom = "{% for m in messages %}{{ m.content }}{% generation %}!{% endgeneration %}{% endfor %}"
    assert not is_shipped_source(custom)
    with pytest.raises(ValueError, match="shipped"):
        compile_shipped(custom)
    # a custom template still renders, in transformers' sandbox
    spec = ChatTemplate(name="custom", family="chatml", source=custom)
    assert render_plain(spec, [{"role": "user", "content": "a"}]) == ("a!", [(1, 2)])
    escape = "{{ messages.__class__.__mro__ }}"
    with pytest.raises(Exception, match="unsafe|not safely|access"):
        render_plain(ChatTemplate(name="x", family="chatml", source=escape), [{"role": "user", "content": "a"}])


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [1.5, True, None, "ü"], "c": {"d": 0.1}},
    {"1": "a"},
    [1, 1.0, "1"],
    {"nested": {"deep": [{"x": 1e100}, {"y": -0.0}]}},
])
@pytest.mark.parametrize("options", [
    {"indent": 4}, {"indent": 2, "ensure_ascii": True}, {"indent": 4, "sort_keys": True},
    {"indent": 4, "separators": (",", ": ")}, {"indent": "\t"}, {},
])
def test_tojson_matches_json_dumps_also_when_remembered(value, options):
    defaults = {"ensure_ascii": False, "indent": None, "separators": None, "sort_keys": False}
    expected = json.dumps(value, **{**defaults, **options})
    assert _tojson(value, **options) == expected
    assert _tojson(json.loads(json.dumps(value)), **options) == expected  # served from the memo


@pytest.mark.parametrize("name", ["glm4", "qwen2.5"])
def test_json_renderer_survives_pickling_for_worker_processes(name):
    import pickle

    from toolcall_templates.templates import JsonRenderer

    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    renderer = JsonRenderer(name)
    copy = pickle.loads(pickle.dumps(renderer))
    assert copy(messages, None) == renderer(messages, None) == render(name, messages, None)
    custom = ChatTemplate(name="custom", family="chatml", source="{% generation %}{{ messages[0].content }}"
                          "{% endgeneration %}")
    assert pickle.loads(pickle.dumps(JsonRenderer(custom)))(messages, None) == ("hi", [(0, 2)])


@pytest.mark.parametrize("name", list_templates())
def test_random_conversations_render_as_in_the_sandbox(name):
    """Unusual orders and shapes (empty turns, runs of one role, parallel calls), seeded, errors included."""
    import random

    from test_template_parity import random_conversation

    rng, kwargs = random.Random(name), _kwargs(name)
    for _ in range(300):
        messages, tools = random_conversation(rng)
        for add_generation_prompt in (False, True):
            expected = _outcome(render, name, messages, tools, add_generation_prompt=add_generation_prompt, **kwargs)
            got = _outcome(render_plain, name, messages, tools, add_generation_prompt=add_generation_prompt,
                           **kwargs)
            assert got == expected, messages


def test_the_sandboxs_range_limit_applies_alike():
    """JSON-text arguments with escapes are re-spelt character by character; past the sandbox's range limit both
    environments refuse the same way instead of one rendering what the other rejects."""
    arguments = '{"a": "' + "x" * 100_001 + '\\u00e9"}'
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": arguments}}]}]
    expected = _outcome(render, "qwen2.5", messages, None)
    assert expected[0] == "OverflowError"
    assert _outcome(render_plain, "qwen2.5", messages, None) == expected


def test_remembered_tojson_output_is_bounded_in_characters(monkeypatch):
    from toolcall_templates import render_environment

    monkeypatch.setattr(render_environment, "_INDENTED_JSON_CHARS", 4000)
    render_environment.clear_memos()
    values = [{"name": f"tool{k}", "description": "d" * 30} for k in range(40)]
    for value in values:
        assert _tojson(value, indent=4) == json.dumps(value, ensure_ascii=False, indent=4)
    memo = render_environment._indented
    assert 3000 < memo._chars <= 4000 and len(memo._texts) < len(values)  # the oldest were forgotten
    assert _tojson({"big": "x" * 200}, indent=2) == json.dumps({"big": "x" * 200}, indent=2)  # too big to keep
    assert all("big" not in key[0] for key in memo._texts)
    render_environment.clear_memos()


@requires_shared
def test_glm4_native_form_renders_as_in_the_sandbox():
    """GLM-4's native form (tools on a system message, `metadata` on calls and results) takes other template paths."""
    from test_template_parity import shared_rows

    from toolcall_templates.glm_native import row_to_glm_messages

    compared = 0
    for row in shared_rows()[::3]:
        try:
            messages = row_to_glm_messages(row)
        except Exception:  # noqa: BLE001 - rows the native form cannot hold are not the point here
            continue
        for name in ("glm4", "glm4-legacy"):
            assert _outcome(render_plain, name, messages, None, add_stop_token=True) == \
                _outcome(render, name, messages, None, add_stop_token=True), row["id"]
        compared += 1
    assert compared > 500
