"""The shared conversation rules: parallel calls, positional linking, deterministic ids, reasoning split."""

import pytest

from toolcall_templates import InvalidRecord, normalize
from toolcall_templates.conversation import ConversationBuilder, split_reasoning, strip_markers


def _parallel_record():
    return {"messages": [
        {"role": "user", "content": "weather in Paris and Rome"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"function": {"name": "w", "arguments": '{"c": "Paris"}'}},
            {"function": {"name": "w", "arguments": {"c": "Rome"}}}]},
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "rain"},
        {"role": "assistant", "content": "Paris sunny, Rome rain."}]}


def test_parallel_calls_get_deterministic_ids_and_positional_links():
    row = normalize(_parallel_record())
    calls = row["messages"][1]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [{"c": "Paris"}, {"c": "Rome"}]
    assert calls[0]["id"] != calls[1]["id"] and calls[0]["id"].startswith("call_")
    assert [m["tool_call_id"] for m in row["messages"][2:4]] == [calls[0]["id"], calls[1]["id"]]
    assert [m["name"] for m in row["messages"][2:4]] == ["w", "w"]
    again = normalize(_parallel_record())
    assert again["id"] == row["id"] and again["messages"] == row["messages"]


def test_message_keys_are_only_those_that_apply():
    row = normalize(_parallel_record())
    assert set(row["messages"][0]) == {"role", "content"}
    assert set(row["messages"][1]) == {"role", "content", "tool_calls"} and row["messages"][1]["content"] == ""
    assert set(row["messages"][2]) == {"role", "content", "tool_call_id", "name"}


def test_consecutive_calls_merge_into_one_turn_and_results_link_by_name_fallback():
    b = ConversationBuilder()
    b.user("q")
    b.call("a", {})
    b.call("b", {})
    b.result("rb", name="b")
    b.result("ra", name="a")
    b.assistant("done")
    row = b.build("t")
    calls = row["messages"][1]["tool_calls"]
    assert len(calls) == 2 and len(row["messages"]) == 5
    assert row["messages"][2]["tool_call_id"] == calls[1]["id"]
    assert row["messages"][3]["tool_call_id"] == calls[0]["id"]


def test_call_after_result_starts_a_new_turn():
    b = ConversationBuilder()
    b.user("q")
    b.call("a", {})
    b.result("1")
    b.call("b", {})
    b.result("2")
    b.assistant("done")
    roles = [m["role"] for m in b.build("t")["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]


def test_orphan_result_and_missing_turns_are_rejected():
    b = ConversationBuilder()
    b.user("q")
    with pytest.raises(InvalidRecord, match="answers no preceding tool call"):
        b.result("x")
    with pytest.raises(InvalidRecord, match="no assistant turn"):
        normalize({"messages": [{"role": "user", "content": "hi"}]})


def test_non_ascii_survives_byte_exact():
    record = {"messages": [{"role": "user", "content": "天气？ 날씨 – café \u200b"},
                           {"role": "assistant", "content": "晴 ☀️"}]}
    row = normalize(record)
    assert row["messages"][0]["content"] == "天气？ 날씨 – café \u200b" and row["messages"][1]["content"] == "晴 ☀️"


def test_reasoning_and_markers():
    assert split_reasoning("<think>\nplan\n</think>\n\nanswer") == ("plan", "answer")
    assert split_reasoning("no think") == (None, "no think")
    assert split_reasoning("<think>\ncut off mid-thought") == ("cut off mid-thought", "")
    assert strip_markers(" hello <|endoftext|>\n") == "hello"
    row = normalize({"messages": [{"role": "user", "content": "q"},
                                  {"role": "assistant", "content": "<think>plan</think>answer"}]})
    assert row["messages"][1] == {"role": "assistant", "content": "answer", "reasoning_content": "plan"}
