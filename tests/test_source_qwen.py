"""Qwen function-calling data: rendered ChatML text, Qwen-Agent messages and ✿ markers, ``<function_call>`` tags."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO_ROOT, load_tokenizer, shared_path

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, qwen

EXAMPLES = REPO_ROOT / "dataset_scripts" / "examples" / "qwen.jsonl"
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "查询天气", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def roles(row: dict) -> list[str]:
    return [m["role"] for m in row["messages"]]


def example_rows() -> list[dict]:
    return [normalize(json.loads(line)) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]


# -- rendered ChatML text ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["qwen2.5", "qwen3"])
def test_chatml_rendered_by_official_template_round_trips(family):
    tokenizer = load_tokenizer(family)
    rows = example_rows()
    rows.append(normalize({"text": "<|im_start|>user\n天气？<|im_end|>\n<|im_start|>assistant\n<think>\n想一想\n</think>\n\n"
                                   "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\"}}\n</tool_call><|im_end|>\n"
                                   "<|im_start|>user\n<tool_response>\n晴\n</tool_response><|im_end|>\n"
                                   "<|im_start|>assistant\n北京晴。<|im_end|>\n"}, "qwen"))
    for row in rows:
        text = tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False)
        again = normalize({"text": text})
        assert again["meta"]["format"] == "qwen" and again["meta"]["variant"] == "chatml_text"
        assert again["tools"] == row["tools"]
        assert tokenizer.apply_chat_template(again["messages"], tools=again["tools"], tokenize=False) == text
        calls = [c["function"] for m in row["messages"] for c in m.get("tool_calls", [])]
        assert [c["function"] for m in again["messages"] for c in m.get("tool_calls", [])] == calls
        if family == "qwen3" and row["messages"][0]["role"] == "system":
            assert again["messages"] == row["messages"]


def test_chatml_function_call_template_round_trips():
    from toolcall_templates.templates import list_templates, render

    if "chatml-function-call" not in list_templates():
        pytest.skip("the chatml-function-call template is not bundled")
    sources = [json.loads(line) for name in ("hermes", "react", "ms_swift", "qwen")
               for line in (REPO_ROOT / "dataset_scripts" / "examples" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    for source in sources:
        row = normalize(source)
        text, _ = render("chatml-function-call", row["messages"], row["tools"])
        again = normalize({"text": text}, "qwen")
        assert (again["messages"], again["tools"]) == (row["messages"], row["tools"])


def test_hermes_card_chatml_blocks():
    card = shared_path("sources", "hermes_function_calling", "dataset_card_README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```\n(.*?)^```", card, re.DOTALL | re.MULTILINE)
    system = next(b for b in blocks if b.startswith("<|im_start|>system"))
    conversation = next(b for b in blocks if b.startswith("<|im_start|>user") and "<|im_start|>tool" in b)
    row = normalize({"text": system + conversation})
    # the Hermes 2 Pro model-card system prompt is calling instructions only (pydantic schema included): removed
    assert roles(row) == ["user", "assistant", "tool", "assistant"]
    assert [t["function"]["name"] for t in row["tools"]] == ["get_stock_fundamentals"]
    (removed,) = row["meta"]["removed_instructions"]
    assert removed["dropped"] and "Use the following pydantic model json schema" in removed["spans"][0]["text"]
    row["messages"].insert(0, {"role": "system", "content": removed["spans"][0]["text"]})  # source indices below
    call = row["messages"][2]["tool_calls"][0]
    assert call["function"] == {"name": "get_stock_fundamentals", "arguments": {"symbol": "TSLA"}}
    result = json.loads(row["messages"][3]["content"])
    assert result["company_name"] == "Tesla, Inc." and result["dividend_yield"] is None
    assert row["messages"][3]["tool_call_id"] == call["id"]
    assert row["messages"][4]["content"].startswith("The stock fundamentals data for Tesla (TSLA) are as follows:")
    assert row["warnings"] == []


def test_chatml_with_qwen1_react_and_trailing_generation_prompt():
    text = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n北京天气<|im_end|>\n"
            "<|im_start|>assistant\nThought: 查天气\nAction: get_weather\nAction Input: {\"city\": \"北京\"}\n"
            "Observation: 晴\nThought: I now know the final answer\nFinal Answer: 北京晴。<|im_end|>\n<|im_start|>assistant\n")
    row = normalize({"text": text}, "qwen")
    assert roles(row) == ["system", "user", "assistant", "tool", "assistant"]
    assert row["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"city": "北京"}
    assert row["messages"][4]["content"] == "北京晴。"


# -- Qwen-Agent messages ----------------------------------------------------------------------------------------------
def test_examples_file():
    rows = example_rows()
    assert len(rows) >= 3 and all(r["meta"]["format"] == "qwen" and r["warnings"] == [] for r in rows)
    chatml, markers, agent, tags = rows
    assert roles(chatml) == ["system", "user", "assistant", "tool", "tool", "assistant", "user", "assistant", "tool", "assistant"]
    assert [c["function"]["name"] for c in chatml["messages"][2]["tool_calls"]] == ["get_weather", "get_air_quality"]
    assert roles(markers) == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert markers["messages"][2]["content"] == "我来同时查询两个汇率。"
    assert [m["content"] for m in markers["messages"][3:5]] == ['{"rate": 7.83}', '{"rate": 9.21}']
    assert markers["tools"][0]["function"]["name"] == "exchange_rate" and markers["meta"]["tools_from"] == "system_prompt"
    assert agent["messages"][1]["reasoning_content"] == "Two independent lookups: flights and hotels."
    assert [m["name"] for m in agent["messages"][2:4]] == ["search_flights", "search_hotels"]
    assert agent["messages"][3]["content"] == '[{"name": "外滩酒店", "price": "¥980/晚"}]'
    assert tags["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"value": 72, "from_unit": "F", "to_unit": "C"}
    assert tags["messages"][2]["content"] == ""


def test_markers_sequential_and_function_turn_results():
    rec = {"functions": [WEATHER["function"]], "messages": [
        {"role": "user", "content": "上海呢？"},
        {"role": "assistant", "content": "✿FUNCTION✿: get_weather\n✿ARGS✿: {\"city\": \"上海\"}"},
        {"role": "function", "name": "get_weather", "content": "多云"},
        {"role": "assistant", "content": "✿RETURN✿: 上海多云。"}]}
    assert detect_format(rec) == "qwen"
    row = normalize(rec)
    assert roles(row) == ["user", "assistant", "tool", "assistant"]
    assert row["messages"][2]["content"] == "多云" and row["messages"][3]["content"] == "上海多云。"


def test_markers_reply_then_another_call_in_one_text():
    text = ("✿FUNCTION✿: get_weather\n✿ARGS✿: {\"city\": \"A\"}\n✿RESULT✿: 晴\n✿RETURN✿: A 晴，再查 B。\n"
            "✿FUNCTION✿: get_weather\n✿ARGS✿: {\"city\": \"B\"}\n✿RESULT✿: 雨\n✿RETURN✿: B 下雨。")
    row = normalize({"tools": [WEATHER], "messages": [{"role": "user", "content": "A 和 B"},
                                                     {"role": "assistant", "content": text}]}, "qwen")
    assert roles(row) == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert row["messages"][3]["content"] == "A 晴，再查 B。"
    assert row["messages"][3]["tool_calls"][0]["function"]["arguments"] == {"city": "B"}
    assert row["messages"][5]["content"] == "B 下雨。" and row["meta"]["inline_observations"] == 2


def test_function_call_tag_with_string_arguments_and_text():
    rec = {"messages": [{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "Checking.<function_call>{\"name\": \"get_weather\", "
                                                         "\"arguments\": \"{\\\"city\\\": \\\"Oslo\\\"}\"}</function_call>"},
                        {"role": "function", "name": "get_weather", "content": "snow"},
                        {"role": "assistant", "content": "Snow in Oslo."}]}
    row = normalize(rec, "qwen")
    assert row["messages"][1]["content"] == "Checking."
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}


@pytest.mark.parametrize("record, message", [
    ({"text": "garbage <|im_start|>user\nx<|im_end|>"}, "text before the first"),
    ({"text": "<|im_start|>user\nx<|im_end|>junk<|im_start|>assistant\ny<|im_end|>"}, "text after <|im_end|>"),
    ({"messages": [{"role": "user", "content": [{"image": "a.png"}]}, {"role": "assistant", "content": "x"}]},
     "content item of kind 'image' is not supported"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "✿RESULT✿: orphan"}]},
     "without a preceding action"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "function_call": "f()"}]},
     "function_call must be an object"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "<function_call>{oops</function_call>"}]},
     "neither JSON nor a Python literal"),
    ({"text": "<|im_start|>user\nx<|im_end|>\n<|im_start|>tool\n<tool_response>\nr\n</tool_response><|im_end|>"},
     "answers no preceding tool call"),
])
def test_malformed_records_are_rejected(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "qwen")


def test_detector_is_specific():
    assert qwen.detect({"text": "<|im_start|>user\nhi<|im_end|>"})
    legacy_openai = {"functions": [WEATHER["function"]], "messages": [
        {"role": "user", "content": "x"}, {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": "{}"}},
        {"role": "function", "name": "get_weather", "content": "r"}]}
    assert not qwen.detect(legacy_openai)
    assert not qwen.detect({"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]})
    assert not qwen.detect({"text": "plain text", "label": 1})
