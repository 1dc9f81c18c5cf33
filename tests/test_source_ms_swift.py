"""ms-swift agent formats: ``tool_call`` / ``tool_response`` messages (doc samples) and legacy ReAct rows."""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT, shared_path

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, ms_swift

EXAMPLES = REPO_ROOT / "dataset_scripts" / "examples" / "ms_swift.jsonl"
TOOLS = json.dumps([{"type": "function", "function": {"name": "lookup", "description": "查", "parameters": {
    "type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}}}], ensure_ascii=False)


def agent(*messages: tuple[str, str], tools: str | None = TOOLS) -> dict:
    rec: dict = {"messages": [{"role": r, "content": c} for r, c in messages]}
    if tools is not None:
        rec["tools"] = tools
    return rec


def roles(row: dict) -> list[str]:
    return [m["role"] for m in row["messages"]]


def doc_records(name: str) -> list[dict]:
    path = shared_path("sources", "ms_swift_agent", "doc_examples", name)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- documentation samples --------------------------------------------------------------------------------------------
def test_agent_support_doc_samples():
    records = doc_records("ms_swift_Agent-support_tool_call_tool_response.jsonl")
    assert [detect_format(r) for r in records] == ["ms_swift", "ms_swift"]
    parallel, multimodal = (normalize(r) for r in records)

    assert roles(parallel) == ["user", "assistant", "tool", "tool", "assistant"]
    calls = parallel["messages"][1]["tool_calls"]
    assert [c["function"] for c in calls] == [
        {"name": "realtime_aqi", "arguments": {"city": "Beijing"}}, {"name": "realtime_aqi", "arguments": {"city": "Shanghai"}}]
    assert [m["tool_call_id"] for m in parallel["messages"][2:4]] == [c["id"] for c in calls]
    assert parallel["messages"][3]["content"] == '{"city": "Shanghai", "aqi": "72", "unit": "fahrenheit"}'
    assert parallel["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert parallel["meta"]["variant"] == "tool_call" and parallel["warnings"] == []

    assert roles(multimodal) == ["user", "assistant", "tool", "assistant"]
    think = multimodal["messages"][1]
    assert think["content"] == "" and think["reasoning_content"] == "I can check the current time by opening the calendar app."
    assert think["tool_calls"][0]["function"]["arguments"] == {"x": 105, "y": 132}
    assert multimodal["messages"][0]["content"] == "<image>What time is it now?"
    assert multimodal["meta"]["images"] == ["desktop.png", "calendar.png"]


def test_legacy_placeholder_doc_templates_are_rejected_with_reason():
    records = doc_records("ms_swift_legacy_custom_agent_formats.jsonl.txt")
    assert len(records) == 6
    reasons = []
    for rec in records:
        with pytest.raises(InvalidRecord) as info:
            normalize(rec, "ms_swift")
        reasons.append(str(info.value))
    assert all("tools is neither JSON nor a Python literal: '{API_LIST}'" in r for r in reasons)


# -- hand-written records ---------------------------------------------------------------------------------------------
def test_examples_file():
    rows = [normalize(json.loads(line)) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 3 and all(r["meta"]["format"] == "ms_swift" and r["warnings"] == [] for r in rows)
    assert [c["function"]["arguments"]["target"] for c in rows[0]["messages"][2]["tool_calls"]] == ["USD", "JPY"]
    second = rows[1]["messages"]
    assert second[1]["tool_calls"][0]["function"]["arguments"] == {"query": "VPN disconnects every 10 minutes", "top_k": 2}
    assert second[5]["content"] == "Sure, I'll open a ticket for you." and len(second[5]["tool_calls"]) == 1
    assert [r["meta"]["variant"] for r in rows] == ["tool_call", "tool_call", "legacy_react", "legacy_react"]
    plugin = rows[3]
    assert plugin["tools"][0]["function"]["name"] == "image_gen"
    assert plugin["tools"][0]["function"]["parameters"]["required"] == ["prompt"]
    assert roles(plugin) == ["user", "assistant", "tool", "assistant"]


def test_assistant_text_joins_following_calls_and_results_link_in_order():
    rec = agent(("user", "查 a 和 b"), ("assistant", "我并行查询。"),
                ("tool_call", '{"name": "lookup", "arguments": "{\\"key\\": \\"a\\"}"}'),
                ("tool_call", json.dumps({"name": "lookup", "arguments": {"key": "b"}})),
                ("tool", "A 的结果"), ("tool_response", "B 的结果"), ("assistant", "a 和 b 都查到了。"))
    row = normalize(rec, "ms_swift")
    assert roles(row) == ["user", "assistant", "tool", "tool", "assistant"]
    turn = row["messages"][1]
    assert turn["content"] == "我并行查询。" and len(turn["tool_calls"]) == 2
    assert [m["content"] for m in row["messages"][2:4]] == ["A 的结果", "B 的结果"]
    assert [m["tool_call_id"] for m in row["messages"][2:4]] == [c["id"] for c in turn["tool_calls"]]


def test_tool_call_content_variants():
    rec = agent(("user", "x"), ("tool_call", json.dumps([{"name": "lookup", "arguments": {"key": "1"}},
                                                         {"name": "lookup", "parameters": {"key": "2"}}])),
                ("tool_response", "r1"), ("tool_response", "r2"), ("assistant", "ok"), tools=None)
    rec["messages"][1]["content"] = json.loads(rec["messages"][1]["content"])  # already-decoded content works too
    row = normalize(rec, "ms_swift")
    assert [c["function"]["arguments"] for c in row["messages"][1]["tool_calls"]] == [{"key": "1"}, {"key": "2"}]
    assert not row["tools"] and len(row["warnings"]) == 2  # undeclared tool


def test_legacy_react_row_with_separate_tool_turns():
    rec = {"tools": TOOLS, "conversations": [
        {"from": "user", "value": "查 a"},
        {"from": "assistant", "value": "Thought: 查询\nAction: lookup\nAction Input: {'key': 'a'}\nObservation:"},
        {"from": "tool", "value": "a=1"},
        {"from": "assistant", "value": "Final Answer: a 是 1"}]}
    assert ms_swift.detect(rec) and detect_format(rec) == "ms_swift"
    row = normalize(rec)
    assert roles(row) == ["user", "assistant", "tool", "assistant"]
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"key": "a"}
    assert row["messages"][2]["content"] == "a=1" and row["messages"][3]["content"] == "a 是 1"


@pytest.mark.parametrize("messages, message", [
    ((("user", "x"), ("tool_call", "{oops"), ("assistant", "y")), "tool_call content is not valid JSON"),
    ((("user", "x"), ("tool_call", '{"arguments": {}}'), ("assistant", "y")), "has no 'name'"),
    ((("user", "x"), ("tool_call", '"lookup"'), ("assistant", "y")), "must be a JSON object"),
    ((("user", "x"), ("tool_response", "r"), ("assistant", "y")), "answers no preceding tool call"),
    ((("user", "x"), ("tool_call", '{"name": "lookup", "arguments": [1]}'), ("assistant", "y")), "must be an object or a string, got list"),
    ((("user", "x"), ("tool_call", '{"name": "lookup", "arguments": {}}'), ("critic", "y")), "unsupported role 'critic'"),
    ((("tool_call", '{"name": "lookup", "arguments": {}}'), ("assistant", "y")), "no user turn"),
])
def test_malformed_records_are_rejected(messages, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(agent(*messages), "ms_swift")


def test_bad_tools_value_is_rejected():
    with pytest.raises(InvalidRecord, match="must be a list of tool definitions"):
        normalize(agent(("user", "x"), ("tool_call", '{"name": "a", "arguments": {}}'), tools="42"), "ms_swift")


def test_detector_is_specific():
    assert ms_swift.detect(agent(("user", "x"), ("tool_call", "{}")))
    openai_like = {"tools": [], "messages": [{"role": "user", "content": "x"},
                                             {"role": "assistant", "content": "Action: a\nAction Input: {}", "tool_calls": []}]}
    assert not ms_swift.detect(openai_like)
    assert not ms_swift.detect({"conversations": [{"from": "human", "value": "Action: a\nAction Input: {}"}]})
    no_tools = {"conversations": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "Action: a\nAction Input: {}"}]}
    assert not ms_swift.detect(no_tools) and detect_format(no_tools) == "react"
