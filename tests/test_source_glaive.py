"""Raw Glaive v2 normalizer: the five real rows, transcript edge cases, errors."""

from __future__ import annotations

import json

import pytest

from conftest import shared_path
from test_source_sharegpt import EXAMPLES, assert_detector_claims_only_its_records, read_records
from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, glaive

PROMPT = "You are a helpful assistant with access to the following functions. Use them if required"


def _removed_prompt(row: dict) -> str:
    """The system text removed as Glaive's calling preamble (the whole system prompt of these rows)."""
    (entry,) = row["meta"]["removed_instructions"]
    assert entry["message"] == 0 and entry["dropped"] and row["meta"]["format_instructions"] == ["removed"]
    return "".join(span["text"] for span in entry["spans"])


def _real():
    return read_records(shared_path("sources", "glaive_v2_raw", "chat_data.jsonl"))


def test_real_rows_normalize_completely():
    records = _real()
    rows = [normalize(record, "glaive") for record in records]
    assert len(rows) == 5 and all(detect_format(record) == "glaive" for record in records)
    assert all(row["warnings"] == [] and row["messages"][0]["role"] == "user" for row in rows)
    assert all(_removed_prompt(row) == PROMPT for row in rows)  # the preamble only: no system message is left
    assert [[t["function"]["name"] for t in row["tools"]] for row in rows] == [
        ["get_exchange_rate"], ["get_news_headlines"], ["generate_password", "create_task"], ["generate_password"],
        ["calculate_median"]]
    assert not any("<|endoftext|>" in m["content"] or "<functioncall>" in m["content"]
                   for row in rows for m in row["messages"])


def test_refusal_row_has_no_calls():
    row = normalize(_real()[0], "glaive")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][1]["content"].endswith("If you need help with that, feel free to ask!")


def test_news_row_exactly():
    row = normalize(_real()[1], "glaive")
    messages = [{"role": "system", "content": _removed_prompt(row)}, *row["messages"]]  # source indices below
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user", "assistant",
                                             "tool", "assistant"]
    calls = [messages[2]["tool_calls"][0], messages[6]["tool_calls"][0]]
    assert [c["function"] for c in calls] == [
        {"name": "get_news_headlines", "arguments": {"country": "United States"}},
        {"name": "get_news_headlines", "arguments": {"country": "France"}}]
    assert messages[2]["content"] == "" and len({c["id"] for c in calls}) == 2
    assert [messages[3]["tool_call_id"], messages[7]["tool_call_id"]] == [c["id"] for c in calls]
    assert "NASA's Perseverance rover" in messages[3]["content"] and messages[3]["content"].startswith('{"headlines"')
    assert messages[4]["content"].startswith("Here are the latest news headlines for the United States:\n1. Biden")
    assert messages[5] == {"role": "user", "content": "That's interesting. What about the news in France?"}


def test_two_concatenated_schemas_and_boolean_arguments():
    row = normalize(_real()[2], "glaive")
    task = row["tools"][1]["function"]
    assert task["parameters"]["properties"]["priority"]["enum"] == ["low", "medium", "high"]
    assert task["parameters"]["required"] == ["title", "due_date", "priority"]
    call = next(m for m in row["messages"] if "tool_calls" in m)["tool_calls"][0]["function"]
    assert call == {"name": "generate_password", "arguments": {"length": 12, "include_symbols": True}}


# -- hand-written edge cases ---------------------------------------------------------------------------------------
SCHEMA = {"name": "search_restaurants", "description": "Search restaurants",
          "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}
SYSTEM = f"SYSTEM: {PROMPT} -\n" + json.dumps(SCHEMA, indent=4) + "\n"


def test_apostrophes_text_before_call_truncated_response_and_trailing_empty_assistant():
    record = {"system": SYSTEM, "chat": (
        "USER: Is Bob's Diner or McDonald's better?\n\n\n"
        "ASSISTANT: Let me check both. <functioncall> {\"name\": \"search_restaurants\", "
        "\"arguments\": '{\"query\": \"Bob's Diner vs McDonald's\"}'} <|endoftext|>\n\n\n"
        "FUNCTION RESPONSE: {\"results\": [{\"name\": \"Bob's Diner\", \"rating\": 4.\n\n\n"
        "ASSISTANT: Bob's Diner rates higher. <|endoftext|>\n\n\n"
        "USER: 谢谢！\n\n\n"
        "ASSISTANT: 不客气！ <|endoftext|>\n\n\n"
        "ASSISTANT:")}
    assert glaive.detect(record)
    row = normalize(record)
    messages = [{"role": "system", "content": _removed_prompt(row)}, *row["messages"]]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]
    assert messages[2]["content"] == "Let me check both."
    assert messages[2]["tool_calls"][0]["function"]["arguments"] == {"query": "Bob's Diner vs McDonald's"}
    assert messages[3]["content"] == "{\"results\": [{\"name\": \"Bob's Diner\", \"rating\": 4."  # kept verbatim
    assert messages[5:] == [{"role": "user", "content": "谢谢！"}, {"role": "assistant", "content": "不客气！"}]
    assert row["meta"]["notes"] == ["dropped 1 empty ASSISTANT segment(s)"]


def test_object_arguments_single_space_separators_and_trailing_user_turn():
    record = {"system": SYSTEM, "chat": (
        "USER: Find sushi ASSISTANT: <functioncall> {\"name\": \"search_restaurants\", \"arguments\": {\"query\": "
        "\"sushi\"}} <|endoftext|> FUNCTION RESPONSE: {\"results\": []} ASSISTANT: None found. <|endoftext|> "
        "USER: ok")}
    row = normalize(record, "glaive")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant", "user"]
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"query": "sushi"}
    assert row["messages"][0]["content"] == "Find sushi" and row["messages"][-1]["content"] == "ok"


def test_python_literal_inside_quoted_arguments_is_parsed_and_reported():
    record = {"system": SYSTEM, "chat": "USER: q\n\n\nASSISTANT: <functioncall> {\"name\": \"search_restaurants\", "
                                        "\"arguments\": '{'query': \"Bob's\"}'} <|endoftext|>"}
    row = normalize(record, "glaive")
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"query": "Bob's"}
    assert row["meta"]["repairs"] == ["search_restaurants: literal_eval"]


def test_no_function_system_prompt():
    record = {"system": "SYSTEM: You are a helpful assistant, with no access to external functions.",
              "chat": "USER: Hi\n\n\nASSISTANT: Hello! <|endoftext|>\n\n\n"}
    row = normalize(record)
    assert row["tools"] is None and row["meta"]["no_functions"] is True
    assert row["messages"][0] == {"role": "system",
                                  "content": "You are a helpful assistant, with no access to external functions."}
    assert "format_instructions" not in row["meta"] and row["warnings"] == []  # nothing to clean without tools


def test_v1_sample_column_with_system_inside():
    record = {"sample": SYSTEM + "\n\n\nUSER: Pizza places?\n\n\nASSISTANT: <functioncall> "
                                 "{\"name\": \"search_restaurants\", \"arguments\": '{\"query\": \"pizza\"}'}"
                                 " <|endoftext|>\n\n\nFUNCTION RESPONSE: {\"results\": [\"Luigi's\"]}\n\n\n"
                                 "ASSISTANT: Try Luigi's. <|endoftext|>"}
    assert glaive.detect(record)
    row = normalize(record)
    assert _removed_prompt(row) == PROMPT and row["tools"][0]["function"]["name"] == "search_restaurants"
    assert row["messages"][-1] == {"role": "assistant", "content": "Try Luigi's."}


def test_detector_claims_only_glaive_records():
    assert_detector_claims_only_its_records(glaive)


def test_bundled_examples():
    rows = [normalize(record) for record in read_records(EXAMPLES / "glaive.jsonl")]
    assert len(rows) >= 3 and all(row["meta"]["format"] == "glaive" and not row["warnings"] for row in rows)
    assert any("晚安" in m["content"] for row in rows for m in row["messages"])
    assert sum(len(m.get("tool_calls", [])) for row in rows for m in row["messages"]) == 4


# -- errors ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("record, message", [
    ({"system": SYSTEM, "chat": "USER: q\n\n\nASSISTANT: <functioncall> search for pizza <|endoftext|>"},
     "neither JSON nor a Glaive quoted-arguments object"),
    ({"system": SYSTEM, "chat": "USER: q\n\n\nFUNCTION RESPONSE: {}\n\n\nASSISTANT: a"}, "answers no preceding"),
    ({"system": SYSTEM, "chat": "hello USER: q\n\n\nASSISTANT: a"}, "text before its first role marker"),
    ({"system": SYSTEM, "chat": "just text"}, "no USER:/ASSISTANT: role markers"),
    ({"system": f"SYSTEM: {PROMPT} -\n{{\"name\": \"f\", oops}}", "chat": "USER: q\n\n\nASSISTANT: a"},
     "announces functions but holds no parseable JSON schema"),
    ({"system": SYSTEM, "chat": "USER: q\n\n\nASSISTANT: <functioncall> {\"arguments\": '{}'}"}, "no \"name\""),
    ({"system": 3, "chat": "USER: q\n\n\nASSISTANT: a"}, "'system' must be a string"),
    ({"system": SYSTEM}, "no 'chat' transcript"),
])
def test_malformed_records_are_rejected_with_a_reason(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "glaive")
