"""LLaMA-Factory v1 typed-content normalizer: the real reasoning/tool-use demo, edge cases, errors."""

from __future__ import annotations

import json
from functools import lru_cache

import pytest

from conftest import rows_and_errors, shared_path
from test_source_sharegpt import EXAMPLES, assert_detector_claims_only_its_records, read_records
from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, llamafactory_v1


@lru_cache(maxsize=1)
def _demo() -> list[dict]:
    return read_records(shared_path("sources", "llamafactory_v1_typed_content", "reason_tool_use_demo_50.jsonl"))


@lru_cache(maxsize=1)
def _rows() -> tuple[list, list]:
    return rows_and_errors(_demo(), "llamafactory_v1")


def _items(record, kind):
    return [item for m in record["messages"] for item in m["content"] if item["type"] == kind]


def test_real_demo_normalizes_completely():
    rows, errors = _rows()
    assert (len(rows), len(errors)) == (40, 0), errors[:3]
    assert all(detect_format(record) == "llamafactory_v1" for record in _demo())
    calls = [c for row in rows for m in row["messages"] for c in m.get("tool_calls", [])]
    assert len(calls) == sum(len(_items(r, "tool_call")) for r in _demo()) == 56
    parallel = [m for row in rows for m in row["messages"] if len(m.get("tool_calls", [])) > 1]
    assert len(parallel) == 9
    reasoning = [m for row in rows for m in row["messages"] if "reasoning_content" in m]
    assert len(reasoning) == len(_items_all("reasoning")) == 95
    # 37 tool messages upstream; the 6 that pack several results become one message per result
    tool_messages = [m for row in rows for m in row["messages"] if m["role"] == "tool"]
    assert (sum(m["role"] == "tool" for r in _demo() for m in r["messages"]), len(tool_messages)) == (37, 43)
    answered = {m["tool_call_id"] for row in rows for m in row["messages"] if m["role"] == "tool"}
    assert len([c for c in calls if c["id"] not in answered]) == 13  # rows that end on a call
    assert not any("<" in m["content"] and "tool_call" in m["content"] for row in rows for m in row["messages"])


def _items_all(kind):
    return [item for record in _demo() for item in _items(record, kind)]


def test_parallel_results_are_split_and_keep_upstream_ids():
    row = _rows()[0][2]
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool", "assistant", "user",
                                             "assistant", "tool", "tool", "tool", "assistant"]
    first = messages[2]
    assert first["content"] == "" and first["reasoning_content"].startswith("Okay, the user wants the area")
    assert [c["function"]["arguments"] for c in first["tool_calls"]] == [{"radius": 1.5}, {"radius": 3}]
    assert [c["id"] for c in first["tool_calls"]] == ["call_7aEpYivNq3WjuZ3DXJlNZXiZ", "call_RcOWM5rYHIKqdKWc0Vd6aTF1"]
    assert [m["tool_call_id"] for m in messages[3:5]] == [c["id"] for c in first["tool_calls"]]
    assert messages[3] == {"role": "tool", "content": "{'area': 7.0686, 'radius': 1.5, 'unit':'square meters'}",
                           "tool_call_id": "call_7aEpYivNq3WjuZ3DXJlNZXiZ", "name": "circle_area"}
    assert [c["function"]["arguments"]["radius"] for c in messages[7]["tool_calls"]] == [2.5, 4, 5.5]
    assert [m["tool_call_id"] for m in messages[8:11]] == [c["id"] for c in messages[7]["tool_calls"]]


def test_wrapped_object_results_are_serialized_and_bare_single_results_kept_verbatim():
    rows = _rows()[0]
    backup = rows[6]["messages"]
    assert [m["name"] for m in backup if m["role"] == "tool"] == ["configure_backup_automation",
                                                                  "initiate_recovery_process"]
    assert json.loads(backup[3]["content"])["status"] == "success"
    stock = rows[8]["messages"]
    assert [m["content"] for m in stock if m["role"] == "tool"] == ['[{"stock_price": 134.32}]',
                                                                   '[{"stock_price": 235.77}]']


def test_tool_schemas_are_normalized_with_function_level_required():
    tool = _rows()[0][0]["tools"][0]["function"]
    assert tool == {
        "name": "get_device_asset_by_identifier",
        "description": "Fetches device asset information using a specified identifier from an external system "
                       "via RapidAPI.",
        "parameters": {"type": "object", "properties": {"identifier": {
            "description": "The unique identifier for the device asset.", "type": "string", "default": "71491234-A"}},
            "required": ["identifier"]},
    }
    assert _rows()[0][38]["tools"] is None  # the row with "[]"


def test_trailing_call_and_no_call_rows():
    rows = _rows()[0]
    assert [m["role"] for m in rows[15]["messages"]] == ["system", "user", "assistant"]
    names = [c["function"]["name"] for c in rows[15]["messages"][2]["tool_calls"]]
    assert names == ["top_news", "exact_url_non_english"]
    refusal = rows[0]["messages"][2]
    assert "tool_calls" not in refusal and refusal["content"].startswith("I'm sorry, but the available tools")
    assert refusal["reasoning_content"].startswith("Okay, the user is asking for schools")


# -- hand-written edge cases ---------------------------------------------------------------------------------------
def _text(value):
    return {"type": "text", "value": value}


def _call(name, arguments):
    return {"type": "tool_call", "value": json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)}


LOOKUP = {"name": "lookup", "description": "查询",
          "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
TOOLS = json.dumps([{"type": "function", "function": LOOKUP}], ensure_ascii=False)


def test_interleaved_reasoning_string_content_and_loss_weights():
    record = {"messages": [
        {"role": "user", "content": "查一下北京和东京", "loss_weight": 0.0},
        {"role": "assistant", "content": [{"type": "reasoning", "value": "先查北京"}, _call("lookup", {"q": "北京"}),
                                          {"type": "reasoning", "value": "再查东京"}, _call("lookup", {"q": "東京"})],
         "loss_weight": 0.5},
        {"role": "tool", "content": [_text('[{"tool_call_id": "c9", "name": "lookup", "content": {"r": "晴"}}, '
                                           '{"name": "lookup", "content": "雨"}]')]},
        {"role": "assistant", "content": "北京晴，東京雨。"},
    ], "tools": TOOLS}
    assert llamafactory_v1.detect(record)
    row = normalize(record)
    messages = row["messages"]
    assert messages[1]["reasoning_content"] == "先查北京\n再查东京"
    assert [c["id"] for c in messages[1]["tool_calls"]][0] == "c9"
    assert [(m["content"], m["tool_call_id"]) for m in messages[2:4]] == [
        ('{"r": "晴"}', "c9"), ("雨", messages[1]["tool_calls"][1]["id"])]
    assert messages[4] == {"role": "assistant", "content": "北京晴，東京雨。"}
    assert row["meta"]["loss_weights"] == {"0": 0.0, "1": 0.5}
    assert any("interleaved" in note for note in row["meta"]["notes"])


def test_draft_item_types_tools_and_tool_calls():
    record = {"messages": [
        {"role": "system", "content": [{"type": "tools", "value": TOOLS}, _text("Use tools.")]},
        {"role": "user", "content": [_text("q")]},
        {"role": "assistant", "content": [{"type": "tool_calls", "value": json.dumps(
            [{"name": "lookup", "arguments": {"q": "a"}}, {"name": "lookup", "arguments": {"q": "b"}}])}]},
    ]}
    row = normalize(record)
    assert row["tools"][0]["function"]["name"] == "lookup"
    assert row["messages"][0] == {"role": "system", "content": "Use tools."}
    assert [c["function"]["arguments"] for c in row["messages"][2]["tool_calls"]] == [{"q": "a"}, {"q": "b"}]


def test_think_block_in_text_becomes_reasoning():
    record = {"messages": [{"role": "user", "content": [_text("hi")]},
                           {"role": "assistant", "content": [_text("<think>greet</think>Hello!")]}]}
    assert normalize(record)["messages"][1] == {"role": "assistant", "content": "Hello!", "reasoning_content": "greet"}


def test_detection_leaves_openai_content_parts_alone():
    openai_parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                                 {"role": "assistant", "content": "hello"}]}
    assert not llamafactory_v1.detect(openai_parts)
    assert detect_format(openai_parts) == "openai"


def test_detector_claims_only_llamafactory_v1_records():
    assert_detector_claims_only_its_records(llamafactory_v1)


def test_bundled_examples():
    rows = [normalize(record) for record in read_records(EXAMPLES / "llamafactory_v1.jsonl")]
    assert len(rows) >= 3 and all(row["meta"]["format"] == "llamafactory_v1" and not row["warnings"] for row in rows)
    assert any(len(m.get("tool_calls", [])) > 1 for row in rows for m in row["messages"])
    assert any("杭州" in m["content"] for row in rows for m in row["messages"])


# -- errors ----------------------------------------------------------------------------------------------------
def _record(*messages, tools=TOOLS):
    return {"messages": list(messages), "tools": tools}


@pytest.mark.parametrize("record, message", [
    (_record({"role": "user", "content": [{"type": "image_url", "value": "x.png"}]}),
     "only text, reasoning, tool_call, tool_calls, tools"),
    (_record({"role": "user", "content": [_text("q")]},
             {"role": "assistant", "content": [{"type": "tool_call", "value": "lookup(q=1)"}]}), "not valid JSON"),
    (_record({"role": "user", "content": [_text("q")]},
             {"role": "assistant", "content": [{"type": "tool_call", "value": "[1]"}]}),
     "a tool call must be an object"),
    (_record({"role": "user", "content": [_call("lookup", {})]}), "a user message cannot hold a 'tool_call' item"),
    (_record({"role": "user", "content": [_text("q")]}, {"role": "tool", "content": [_text("r")]},
             {"role": "assistant", "content": [_text("a")]}), "answers no preceding tool call"),
    (_record({"role": "robot", "content": [_text("q")]}), "unsupported role 'robot'"),
    (_record({"role": "user", "content": [{"type": "text", "value": 3}]}), "must have a string 'value'"),
    (_record({"role": "user", "content": [_text("q")], "loss_weight": "high"}), "loss_weight must be a number"),
    ({"messages": []}, "no non-empty 'messages'"),
])
def test_malformed_records_are_rejected_with_a_reason(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "llamafactory_v1")
