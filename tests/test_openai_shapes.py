"""Every shipped template renders the message shapes users really have: OpenAI-shaped turns with ``content: null``
(transformers 5.x drops keys whose value is None before rendering, so the template sees no ``content`` at all; 4.x
passes None), ``content`` absent, arguments as mappings or JSON text, tool results null or absent.

Each of these renders exactly as the same conversation with ``content: ""`` (resp. the key's empty form), through
the doors users use: ``apply_tool_template`` + ``tokenizer.apply_chat_template`` on the real tokenizers (all five
fixtures; the agent styles on both Qwen tokenizers; a stand-in for templates whose tokenizer ``../shared`` lacks),
``templates.render``, ``tokenize_conversation`` and the ``toolcall render`` command. Parametrized over
``list_templates()``, so templates added later are covered too. This file imports neither torch nor datasets:
``.ci/run`` also runs it under the oldest transformers that pyproject allows.
"""

from __future__ import annotations

import copy
import json
import subprocess
from functools import lru_cache
from typing import Any, Callable

import pytest

from conftest import SHARED, shared_path, stand_in_tokenizer, toolcall_script
from toolcall_templates import apply_tool_template, list_templates, render
from toolcall_templates.install import TemplateInstallError, check_required_tokens, required_tokens
from toolcall_templates.templates import get_template

FIXTURES = ("qwen2.5", "qwen3", "glm4", "llama3.1", "llama3.2")
TEMPLATES = list_templates()
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                   "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Current time in a time zone.",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}
TOOLS = [WEATHER, TIME]
EMPTY = object()
"""Placeholder in the conversations below for an empty ``content``: ``""``, None or a missing key."""


def call(name: str, arguments: dict, call_id: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


CONVERSATIONS: dict[str, list[dict]] = {
    "call_then_answer": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": EMPTY, "tool_calls": [call("get_weather", {"city": "Paris"}, "c1")]},
        {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "22°C, sunny"},
        {"role": "assistant", "content": "It is 22°C and sunny in Paris."},
    ],
    "parallel_calls_empty_results": [
        {"role": "user", "content": "Weather and time in 北京?"},
        {"role": "assistant", "content": EMPTY, "tool_calls": [
            call("get_weather", {"city": "北京", "unit": "C"}, "c1"), call("get_time", {"tz": "Asia/Shanghai"}, "c2")]},
        {"role": "tool", "tool_call_id": "c1", "content": EMPTY},
        {"role": "tool", "tool_call_id": "c2", "content": "09:30"},
        {"role": "assistant", "content": "I could not get the weather; it is 09:30."},
    ],
    "every_content_empty": [
        {"role": "system", "content": EMPTY},
        {"role": "user", "content": EMPTY},
        {"role": "assistant", "content": EMPTY, "tool_calls": [call("get_time", {"tz": "UTC"}, "c1")]},
        {"role": "tool", "tool_call_id": "c1", "content": EMPTY},
        {"role": "assistant", "content": EMPTY},
    ],
    "calls_last": [
        {"role": "user", "content": "Time in Tokyo?"},
        {"role": "assistant", "content": EMPTY, "tool_calls": [call("get_time", {"tz": "Asia/Tokyo"}, "c1")]},
    ],
}


def filled(conversation: list[dict], empty: Callable[[dict], None], arguments: str = "mapping") -> list[dict]:
    """The conversation with every ``EMPTY`` content made empty by ``empty(message)``, arguments as a mapping or as
    JSON text."""
    messages = copy.deepcopy(conversation, {id(EMPTY): EMPTY})
    for message in messages:
        if message.get("content") is EMPTY:
            empty(message)
        if arguments == "json":
            for tool_call in message.get("tool_calls") or []:
                tool_call["function"]["arguments"] = json.dumps(tool_call["function"]["arguments"], ensure_ascii=False)
    return messages


def as_empty_string(message: dict) -> None:
    message["content"] = ""


def as_null(message: dict) -> None:
    message["content"] = None


def as_absent(message: dict) -> None:
    del message["content"]


EMPTY_FORMS = {"null": as_null, "absent": as_absent}


# ---------------------------------------------------------------- tokenizers -------------------------------------
@lru_cache(maxsize=None)
def _own_tokenizer(fixture: str):
    """A tokenizer object of this module alone (templates are installed on it), never the conftest one."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / fixture))


def _fits(tokenizer: Any, template: str) -> bool:
    try:
        check_required_tokens(tokenizer, get_template(template))
    except TemplateInstallError:
        return False
    return True


def tokenizers_for(template: str) -> list[tuple[str, Any]]:
    """``(label, tokenizer)`` with ``template`` installed: the fixture of the same name, else every fixture that has
    the template's special tokens (the agent styles: both Qwen tokenizers), else a stand-in (the fixture nearest by
    name with the template's tokens added)."""
    shared_path("fixtures", "tokenizers")
    present = [fixture for fixture in FIXTURES if (SHARED / "fixtures" / "tokenizers" / fixture).is_dir()]
    if template in present:
        chosen = [template]
    else:
        chosen = [fixture for fixture in present if _fits(_own_tokenizer(fixture), template)]
    if chosen:
        return [(fixture, apply_tool_template(_own_tokenizer(fixture), template)) for fixture in chosen]
    base = next((fixture for fixture in ("glm4", "qwen3", "llama3.1") if template[:3] == fixture[:3]), "qwen3")
    spec = get_template(template)
    stand_in = stand_in_tokenizer(base, required_tokens(spec), chat_template=spec.source)
    return [(f"stand-in {base}", apply_tool_template(stand_in, template))]


def chat(tokenizer: Any, template: str, messages: list[dict], tools: list | None, **kwargs: Any) -> tuple[str, list]:
    """``apply_chat_template`` as text, and the assistant mask of the same call."""
    kwargs = {**get_template(template).default_kwargs, **kwargs}
    text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, **kwargs)
    encoded = tokenizer.apply_chat_template(messages, tools=tools, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True, **kwargs)
    return text, list(encoded["assistant_masks"])


# ---------------------------------------------------------------- tests ------------------------------------------
def test_the_issue_example_renders_as_empty_content():
    """The reported failure: Qwen2.5, an OpenAI-shaped call turn with ``content: None`` and JSON-text arguments."""
    tokenizer = tokenizers_for("qwen2.5")[0][1]
    tools = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}]
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
    assert '<|im_start|>assistant\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call><|im_end|>' in text
    messages[1]["content"] = ""
    assert tokenizer.apply_chat_template(messages, tools=tools, tokenize=False) == text


@pytest.mark.parametrize("template", TEMPLATES)
def test_null_and_absent_content_render_as_empty_content(template):
    """``content`` null or absent, on every role, with and without tools, arguments as a mapping or JSON text:
    the same text and the same assistant mask as ``content: ""``."""
    checked = 0
    for label, tokenizer in tokenizers_for(template):
        for name, conversation in CONVERSATIONS.items():
            for tools in (TOOLS, None):
                for arguments in ("mapping", "json"):
                    expected = chat(tokenizer, template, filled(conversation, as_empty_string, arguments), tools)
                    for form, empty in EMPTY_FORMS.items():
                        got = chat(tokenizer, template, filled(conversation, empty, arguments), tools)
                        assert got == expected, f"{template} on {label}: {name}, content {form}, {arguments} arguments"
                        checked += 1
    assert checked >= 32


@pytest.mark.parametrize("template", [t for t in TEMPLATES if get_template(t).family != "react"])
def test_json_text_arguments_render_as_mappings(template):
    """Arguments given as JSON text render as the mapping they spell (ReAct prints a mapping with Python ``repr``,
    as ms-swift does, and JSON text verbatim: see jinja/README.md)."""
    label, tokenizer = tokenizers_for(template)[0]
    for name, conversation in CONVERSATIONS.items():
        mapping = chat(tokenizer, template, filled(conversation, as_null, "mapping"), TOOLS)
        assert chat(tokenizer, template, filled(conversation, as_null, "json"), TOOLS) == mapping, (label, name)


@pytest.mark.parametrize("template", TEMPLATES)
def test_other_optional_keys_render_as_their_empty_form(template):
    """``tool_calls``, ``reasoning_content``, a result's ``name`` / ``tool_call_id`` null or absent, and a call's
    ``arguments`` null or absent, render as their empty forms."""
    label, tokenizer = tokenizers_for(template)[0]
    base = filled(CONVERSATIONS["call_then_answer"], as_empty_string)
    answer, result, calling = base[4], base[3], base[2]

    def variant(edit: Callable[[list[dict]], None]) -> tuple[str, list]:
        messages = copy.deepcopy(base)
        edit(messages)
        return chat(tokenizer, template, messages, TOOLS)

    def put(index: int, key: str, value: Any) -> Callable[[list[dict]], None]:
        return lambda messages: messages[index].__setitem__(key, value)

    def drop(index: int, key: str) -> Callable[[list[dict]], None]:
        return lambda messages: messages[index].pop(key)

    def put_arguments(value: Any) -> Callable[[list[dict]], None]:
        return lambda messages: messages[2]["tool_calls"][0]["function"].__setitem__("arguments", value)

    def drop_arguments(messages: list[dict]) -> None:
        del messages[2]["tool_calls"][0]["function"]["arguments"]

    plain = variant(lambda messages: None)
    assert answer.get("tool_calls") is None and "reasoning_content" not in answer and calling["tool_calls"]
    cases = {
        "answer tool_calls null": (put(4, "tool_calls", None), plain),
        "answer tool_calls []": (put(4, "tool_calls", []), plain),
        "answer reasoning_content null": (put(4, "reasoning_content", None), plain),
        "result name null": (put(3, "name", None), variant(drop(3, "name"))),
        "result tool_call_id null": (put(3, "tool_call_id", None), variant(drop(3, "tool_call_id"))),
        "arguments null": (put_arguments(None), variant(put_arguments({}))),
        "arguments absent": (drop_arguments, variant(put_arguments({}))),
    }
    assert result["name"] == "get_weather"
    for case, (edit, expected) in cases.items():
        assert variant(edit) == expected, f"{template} on {label}: {case}"


@pytest.mark.parametrize("template", TEMPLATES)
def test_tools_without_description_or_parameters_render(template):
    """A tool whose ``description`` / ``parameters`` is null or absent renders (nothing fails on the missing key)."""
    label, tokenizer = tokenizers_for(template)[0]
    messages = filled(CONVERSATIONS["call_then_answer"], as_null)
    for key in ("description", "parameters"):
        for value in (None, EMPTY):
            tool = copy.deepcopy(WEATHER)
            if value is EMPTY:
                del tool["function"][key]
            else:
                tool["function"][key] = value
            text, _ = chat(tokenizer, template, messages, [tool, TIME])
            assert "get_weather" in text and "get_time" in text, f"{template} on {label}: {key} {value}"


@pytest.mark.parametrize("template", TEMPLATES)
def test_render_and_tokenize_conversation_take_null_content(template):
    """``templates.render`` (None reaches the template as None) and ``tokenize_conversation`` give the same text,
    spans, ids and labels (or the same drop reason) for null, absent and empty content."""
    from toolcall_templates import tokenize_conversation
    from toolcall_templates.tokenization.tokenize import ConversationDropped

    def tokenized(messages: list[dict]) -> Any:
        try:
            return tokenize_conversation({"messages": messages, "tools": TOOLS}, tokenizer, template)
        except ConversationDropped as exc:
            return "dropped", exc.drop_reason

    label, tokenizer = tokenizers_for(template)[0]
    kept = 0
    for name in ("call_then_answer", "parallel_calls_empty_results", "calls_last"):
        conversation = CONVERSATIONS[name]
        expected_messages = filled(conversation, as_empty_string, "json")
        expected_render = render(template, expected_messages, TOOLS)
        expected_ids = tokenized(expected_messages)
        kept += isinstance(expected_ids, dict)
        for form, empty in EMPTY_FORMS.items():
            messages = filled(conversation, empty, "json")
            assert render(template, messages, TOOLS) == expected_render, f"{template}: {name}, {form}"
            assert tokenized(messages) == expected_ids, f"{template} on {label}: {name}, {form}"
    assert kept, f"{template}: tokenize_conversation kept none of the conversations"


def test_toolcall_render_takes_null_content(tmp_path):
    """The ``toolcall render`` command on canonical-looking rows whose content is null or absent (one template per
    parser family: the command's path is the same for every template, which the tests above cover)."""
    path = tmp_path / "rows.jsonl"
    rows = []
    for form in ("empty", *EMPTY_FORMS):
        empty = as_empty_string if form == "empty" else EMPTY_FORMS[form]
        rows.append({"id": form, "tools": TOOLS, "messages": filled(CONVERSATIONS["call_then_answer"], empty, "json"),
                     "meta": {"format": "openai"}, "warnings": []})
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    for template in {get_template(name).family: name for name in reversed(TEMPLATES)}.values():
        result = subprocess.run([toolcall_script(), "render", "--template", template, "--mark", "--json", str(path)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{template}: {result.stderr}"
        outputs = [json.loads(line) for line in result.stdout.splitlines()]
        assert [out["id"] for out in outputs] == ["empty", "null", "absent"]
        assert {(out["text"], str(out["generation_spans"])) for out in outputs} == {
            (outputs[0]["text"], str(outputs[0]["generation_spans"]))}, template
