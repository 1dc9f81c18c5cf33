"""NVIDIA When2Call: every answer class of the test files, the SFT and preference train files, malformed records, and
``toolcall build`` on a file of them. Records are written in test code from the published description (dataset card
and NVIDIA/When2Call README): ``question``, ``correct_answer``, ``answers`` per class, ``tools`` as JSON strings,
``<TOOLCALL>[...]</TOOLCALL>`` train answers, ``chosen_response`` / ``rejected_response``."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import load_tokenizer, read_records
from test_source_xlam import EXAMPLES, assert_detector_claims_only_its_records

from toolcall_templates import InvalidRecord, detect_format, normalize
from toolcall_templates.sources import when2call

FLIGHTS = {"name": "search_flights", "description": "Search flights between two airports on a date.", "parameters": {
    "type": "dict", "required": ["origin", "destination", "date"], "properties": {
        "origin": {"type": "string", "description": "IATA code"}, "destination": {"type": "string"},
        "date": {"type": "string", "description": "YYYY-MM-DD"}, "passengers": {"type": "integer"}}}}
ANSWERS = {
    "direct": "Flights from Berlin to Rome usually cost about 90 euros.",
    "tool_call": json.dumps({"name": "search_flights", "arguments": {"origin": "BER", "destination": "FCO",
                                                                     "date": "2024-09-03", "passengers": 2}}),
    "request_for_info": "Sure - on which date do you want to fly from Berlin to Rome?",
    "cannot_answer": "I'm sorry, I can't search flights with the tools available to me.",
}


def w2c_record(answer_class: str, **changes) -> dict:
    record = {"uuid": "0b6a4d3e-0000-4000-8000-000000000001", "source": "BFCL v2 Live Simple",
              "source_id": "live_simple_1-1-0", "question": "Find flights from Berlin to Rome on 2024-09-03 for two.",
              "correct_answer": answer_class, "answers": dict(ANSWERS), "target_tool": "search_flights",
              "tools": [json.dumps(FLIGHTS)], "orig_tools": [json.dumps(FLIGHTS)],
              "orig_question": "Find flights from Berlin to Rome on 2024-09-03 for two.", "held_out_param": None}
    record.update(changes)
    return record


def sft_record(answer: str, tools=(FLIGHTS,)) -> dict:
    return {"tools": list(tools), "messages": [{"role": "user", "content": "Flights Berlin to Rome on 2024-09-03?"},
                                               {"role": "assistant", "content": answer}]}


# -- test files: one row per answer class ------------------------------------------------------------------------------
def test_tool_call_class_becomes_the_parsed_call():
    row = normalize(w2c_record("tool_call"))
    assert row["meta"]["format"] == "when2call" and row["warnings"] == []
    user, assistant = row["messages"]
    assert user == {"role": "user", "content": "Find flights from Berlin to Rome on 2024-09-03 for two."}
    assert assistant["content"] == "" and [c["function"] for c in assistant["tool_calls"]] == [
        {"name": "search_flights", "arguments": {"origin": "BER", "destination": "FCO", "date": "2024-09-03",
                                                 "passengers": 2}}]
    params = row["tools"][0]["function"]["parameters"]
    assert params["type"] == "object" and params["required"] == ["origin", "destination", "date"]
    assert row["meta"]["answer_class"] == "tool_call" and row["meta"]["license"] == "cc-by-4.0"
    assert row["meta"]["upstream_id"] == "0b6a4d3e-0000-4000-8000-000000000001"
    assert row["meta"]["upstream_source"] == "BFCL v2 Live Simple" and row["meta"]["target_tool"] == "search_flights"


def test_request_for_info_class_asks_for_the_held_out_parameter():
    record = w2c_record("request_for_info", question="Find flights from Berlin to Rome for two.", held_out_param="date")
    row = normalize(record)
    assert row["messages"][1] == {"role": "assistant", "content": ANSWERS["request_for_info"]}
    assert row["tools"][0]["function"]["name"] == "search_flights"  # the tool is offered, the call is not made
    assert row["meta"]["held_out_param"] == "date" and row["meta"]["answer_class"] == "request_for_info"


def test_cannot_answer_class_is_a_refusal_without_tools():
    row = normalize(w2c_record("cannot_answer", tools=[], target_tool=None))
    assert row["tools"] is None and row["messages"][1] == {"role": "assistant", "content": ANSWERS["cannot_answer"]}
    assert "target_tool" not in row["meta"]


def test_direct_class_is_a_text_answer():
    row = normalize(w2c_record("direct"))
    assert row["messages"][1] == {"role": "assistant", "content": ANSWERS["direct"]}


def test_rows_render_with_a_real_template():
    tokenizer = load_tokenizer("qwen2.5")
    for answer_class in when2call.ANSWER_CLASSES:
        row = normalize(w2c_record(answer_class))
        text = tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False)
        assert row["messages"][0]["content"] in text
    call_text = tokenizer.apply_chat_template(normalize(w2c_record("tool_call"))["messages"], tokenize=False)
    assert '<tool_call>\n{"name": "search_flights", "arguments": {"origin": "BER"' in call_text


# -- train files ---------------------------------------------------------------------------------------------------------
def test_sft_toolcall_answer_with_parallel_calls_and_xlam_types():
    tool = {"name": "convert", "description": "Convert money.", "parameters": {"type": "dict", "properties": {
        "amount": {"type": "float", "description": "amount"}, "to": {"type": "str", "default": "USD"}}},
        "required": ["amount"]}
    record = sft_record("Converting now.<TOOLCALL>[{\"name\": \"convert\", \"arguments\": {\"amount\": 5, \"to\": \"JPY\"}}, "
                        "{\"name\": \"convert\", \"arguments\": {\"amount\": 5}}]</TOOLCALL>", tools=[tool])
    assert detect_format(record) == "when2call"
    row = normalize(record)
    assistant = row["messages"][1]
    assert assistant["content"] == "Converting now."
    assert [c["function"]["arguments"] for c in assistant["tool_calls"]] == [{"amount": 5, "to": "JPY"}, {"amount": 5}]
    params = row["tools"][0]["function"]["parameters"]
    assert params["properties"]["amount"]["type"] == "number" and params["required"] == ["amount"]
    assert row["meta"]["answer_class"] == "tool_call" and row["warnings"] == []


def test_sft_text_answer_is_detected_by_its_tools():
    record = sft_record("Sorry, I can't book hotels.")
    assert detect_format(record) == "when2call"
    row = normalize(record)
    assert row["messages"][1] == {"role": "assistant", "content": "Sorry, I can't book hotels."}
    assert "answer_class" not in row["meta"]


def test_preference_record_uses_the_chosen_response_and_keeps_the_rejected_one():
    rejected = "<TOOLCALL>[{\"name\": \"search_flights\", \"arguments\": {\"origin\": \"BER\"}}]</TOOLCALL>"
    record = {"tools": [FLIGHTS], "messages": [{"role": "user", "content": "Find me a flight to Rome."}],
              "chosen_response": {"role": "assistant", "content": "From which airport, and on which date?"},
              "rejected_response": {"role": "assistant", "content": rejected}}
    assert detect_format(record) == "when2call"
    row = normalize(record)
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][1]["content"] == "From which airport, and on which date?"
    assert row["meta"]["rejected_response"] == rejected


# -- malformed records ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("record, reason", [
    (w2c_record("tool_call", question=""), "no 'question' text"),
    (w2c_record("maybe"), "correct_answer must be one of direct, tool_call, request_for_info, cannot_answer, got 'maybe'"),
    (w2c_record("tool_call", answers={"direct": "x"}), "answers has no 'tool_call' response"),
    (w2c_record("tool_call", answers="not json"), "answers is not valid JSON"),
    (w2c_record("tool_call", answers={**ANSWERS, "tool_call": "search_flights(origin='BER')"}), "answers.tool_call"),
    (w2c_record("tool_call", answers={**ANSWERS, "tool_call": "{\"arguments\": {}}"}), "call has no 'name'"),
    (w2c_record("direct", tools="{\"name\": \"x\"}"), "'tools' must be a list of tools"),
    (w2c_record("direct", tools=["{not json"]), "tools[0] is not valid JSON"),
    (sft_record("<TOOLCALL>[{\"name\": \"search_flights\"}"), "<TOOLCALL> is not closed"),
    (sft_record("<TOOLCALL>[\"search_flights\"]</TOOLCALL>"), "a call must be a JSON object"),
    ({"tools": [], "messages": []}, "neither a 'question' nor a non-empty 'messages' list"),
    ({"tools": [FLIGHTS], "messages": [{"role": "user", "content": "x"}], "chosen_response": "yes"},
     "chosen_response must be a message object"),
    ({"tools": [FLIGHTS], "messages": [{"role": "tool", "content": "x"}]}, "unsupported role 'tool'"),
])
def test_malformed_records_are_rejected_with_the_reason(record, reason):
    with pytest.raises(InvalidRecord) as error:
        normalize(record, "when2call")
    assert reason in str(error.value)


# -- detection, bundled examples, the build ----------------------------------------------------------------------------
def test_detector_claims_only_when2call_records():
    assert_detector_claims_only_its_records(when2call)
    assert all(detect_format(record) == "when2call" for record in read_records(EXAMPLES / "when2call.jsonl"))
    assert detect_format({"query": "q", "tools": "[]", "answers": "[]"}) == "xlam"  # xLAM keeps its own rows


def test_toolcall_build_on_a_file_of_records(tmp_path):
    records = [w2c_record(c) for c in when2call.ANSWER_CLASSES]
    records += [sft_record("No flights today."), w2c_record("unknown_class"), w2c_record("tool_call", question=" ")]
    path = tmp_path / "when2call_test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(["toolcall", "build", "--source", f"w2c={path}", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (stats,) = json.loads((out / "build_report.json").read_text())["sources"]
    assert (stats["format"], stats["records_in"], stats["rows_out"], stats["rejected"]) == ("when2call", 7, 5, 2)
    reasons = [json.loads(line)["reason"] for line in (out / "rejects" / "w2c.jsonl").read_text().splitlines()]
    assert any("correct_answer must be one of" in r for r in reasons) and any("no 'question'" in r for r in reasons)
