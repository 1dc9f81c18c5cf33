"""BFCL normalizer: joining questions with possible_answer and multi-turn docs, the 1,854 real questions, options."""

from __future__ import annotations

import collections
import json
from functools import cache
from pathlib import Path

import pytest
from conftest import shared_path
from test_source_xlam import EXAMPLES, assert_detector_claims_only_its_records

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import bfcl
from toolcall_templates.sources._reference import NO_CALL_TEXT


@cache
def _real() -> dict[str, dict]:
    return {record["id"]: record for record in bfcl.iter_records(shared_path("sources", "bfcl"))}


def _outcomes(**options) -> tuple[collections.Counter, collections.Counter, list[dict]]:
    normalized, rejected, rows = collections.Counter(), collections.Counter(), []
    for record_id, record in _real().items():
        category = bfcl.category_of(record_id)
        try:
            rows.append(normalize(record, "bfcl", **options))
            normalized[category] += 1
        except InvalidRecord:
            rejected[category] += 1
    return normalized, rejected, rows


def _calls(row: dict) -> list[list[dict]]:
    return [[c["function"] for c in m["tool_calls"]] for m in row["messages"] if m.get("tool_calls")]


def test_detector_claims_only_bfcl_questions():
    assert_detector_claims_only_its_records(bfcl)


def test_iter_records_joins_answers_and_multi_turn_docs():
    records = _real()
    assert len(records) == 1854
    with_truth = collections.Counter(bfcl.category_of(i) for i, r in records.items() if "ground_truth" in r)
    assert sum(with_truth.values()) == 1854 - 192 - 16 and "irrelevance" not in with_truth
    base = records["multi_turn_base_0"]
    names = [f["name"] for f in base["function"]]
    assert base["excluded_function"] == ["cp"] and "cp" not in names and {"mv", "post_tweet"} <= set(names)
    assert records["simple_python_1"]["ground_truth"] == [{"math.factorial": {"number": [5]}}]


def test_iter_records_on_one_question_file_finds_its_answers():
    records = list(bfcl.iter_records(shared_path("sources", "bfcl", "question", "BFCL_v4_multi_turn_base.json")))
    assert len(records) == 160 and all("ground_truth" in r and r["function"] for r in records)


def test_iter_records_on_the_upstream_layout(tmp_path: Path):
    question = {"id": "multi_turn_base_5", "question": [[{"role": "user", "content": "Go to docs and sort a.txt"}]],
                "involved_classes": ["GorillaFileSystem"], "excluded_function": ["rm"]}
    (tmp_path / "BFCL_v4_multi_turn_base.json").write_text(json.dumps(question) + "\n")
    (tmp_path / "possible_answer").mkdir()
    (tmp_path / "possible_answer" / "BFCL_v4_multi_turn_base.json").write_text(
        json.dumps({"id": "multi_turn_base_5", "ground_truth": [["cd(folder='docs')", "sort('a.txt')"]]}) + "\n")
    (tmp_path / "multi_turn_func_doc").mkdir()
    docs = [{"name": name, "description": name, "parameters": {"type": "dict", "properties": {param: {"type": "string"}},
                                                               "required": [param]}}
            for name, param in (("cd", "folder"), ("sort", "file_name"), ("rm", "file_name"))]
    (tmp_path / "multi_turn_func_doc" / "gorilla_file_system.json").write_text("\n".join(map(json.dumps, docs)))
    (tmp_path / "README.json").write_text("{}")
    records = list(bfcl.iter_records(tmp_path))
    assert len(records) == 1 and [f["name"] for f in records[0]["function"]] == ["cd", "sort"]
    row = normalize(records[0], "bfcl")
    assert _calls(row) == [[{"name": "cd", "arguments": {"folder": "docs"}},
                            {"name": "sort", "arguments": {"file_name": "a.txt"}}]]


def test_real_questions_counts():
    normalized, rejected, rows = _outcomes()
    assert sum(normalized.values()) == 1678 and sum(rejected.values()) == 176
    assert rejected == {"live_relevance": 16, "multi_turn_miss_func": 160}
    assert normalized["multi_turn_base"] == 160 and normalized["irrelevance"] == 192
    assert all(row["meta"]["reference_answer"] is True for row in rows)
    assert sum(1 for row in rows if row["warnings"]) < 0.1 * len(rows)


def test_miss_func_merge_option_keeps_them():
    normalized, rejected, _ = _outcomes(miss_func="merge")
    assert sum(normalized.values()) == 1838 and rejected == {"live_relevance": 16}
    row = normalize(_real()["multi_turn_miss_func_0"], "bfcl", miss_func="merge")
    base = normalize(_real()["multi_turn_base_0"], "bfcl")
    assert row["messages"] == base["messages"] and row["meta"]["missed_function"] == {"3": ["sort"]}


def test_reasons_of_rejections():
    with pytest.raises(InvalidRecord, match="live_relevance rows have no ground truth"):
        normalize(_real()["live_relevance_0-0-0"], "bfcl")
    with pytest.raises(InvalidRecord, match=r"functions \['sort'\] are only added mid-conversation"):
        normalize(_real()["multi_turn_miss_func_0"], "bfcl")


def test_simple_row_with_sanitized_name():
    row = normalize(_real()["simple_python_1"], "bfcl")
    assert row["messages"][0] == {"role": "user", "content": "Calculate the factorial of 5 using math functions."}
    assert _calls(row) == [[{"name": "math_factorial", "arguments": {"number": 5}}]]
    assert row["tools"][0]["function"]["name"] == "math_factorial"
    assert row["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {
        "number": {"type": "integer", "description": "The number for which factorial needs to be calculated."}},
        "required": ["number"]}
    assert row["meta"]["original_names"] == {"math_factorial": "math.factorial"}
    assert row["meta"]["category"] == "simple_python" and row["meta"]["programming_language"] == "python"
    assert row["meta"]["license"] == "apache-2.0"
    kept = normalize(_real()["simple_python_1"], "bfcl", sanitize_names=False)
    assert _calls(kept)[0][0]["name"] == "math.factorial" and "original_names" not in kept["meta"]


def test_parallel_chinese_row_skips_empty_alternatives():
    row = normalize(_real()["live_parallel_0-0-0"], "bfcl")
    assert row["messages"][0]["content"] == "请问北京的当前天气状况如何？还有，上海的天气情况是怎样的？"
    assert _calls(row) == [[{"name": "get_current_weather", "arguments": {"location": "Beijing, China", "unit": "fahrenheit"}},
                            {"name": "get_current_weather", "arguments": {"location": "Shanghai, China", "unit": "fahrenheit"}}]]
    ids = [c["id"] for c in row["messages"][1]["tool_calls"]]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)


def test_nested_alternatives_and_omitted_defaults():
    nested = normalize(_real()["live_multiple_0-0-0"], "bfcl")
    assert _calls(nested) == [[{"name": "ChaDri_change_drink", "arguments": {"drink_id": "latte", "new_preferences": {
        "size": "large", "milk_type": "coconut", "sweetness_level": "extra", "temperature": "hot",
        "special_instructions": "served boiling hot"}}}]]
    omitted = normalize(_real()["live_multiple_144-56-0"], "bfcl")
    assert _calls(omitted)[0][0]["arguments"] == {"perPage": 100, "networkId": [], "serials": [],
                                                  "metrics": ["temperature"]}
    literal = normalize(_real()["simple_java_64"], "bfcl")
    assert _calls(literal)[0][0]["arguments"]["meta"] == {"format": "epoch_millis"}
    assert literal["meta"]["programming_language"] == "java"
    java_types = {name: schema.get("type") for name, schema in
                  literal["tools"][0]["function"]["parameters"]["properties"].items()}
    assert java_types == {"name": "string", "factory": None, "script": None, "meta": "object", "onScriptError": None}


def test_multi_turn_row_exactly():
    record = _real()["multi_turn_base_0"]
    row = normalize(record, "bfcl")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * 4
    assert [m["content"] for m in row["messages"][0::2]] == [turn[0]["content"] for turn in record["question"]]
    assert _calls(row)[2] == [{"name": "sort", "arguments": {"file_name": "final_report.pdf"}}]
    assert _calls(row)[0] == [{"name": "cd", "arguments": {"folder": "document"}},
                              {"name": "mkdir", "arguments": {"dir_name": "temp"}},
                              {"name": "mv", "arguments": {"source": "final_report.pdf", "destination": "temp"}}]
    assert row["meta"]["involved_classes"] == ["TwitterAPI", "GorillaFileSystem"]
    assert row["meta"]["initial_config"] == record["initial_config"] and row["warnings"] == []
    assert not any(m["role"] == "tool" for m in row["messages"])


def test_turn_without_answer_and_irrelevance_get_the_refusal_text():
    row = normalize(_real()["multi_turn_base_167"], "bfcl")
    assert row["messages"][-1] == {"role": "assistant", "content": NO_CALL_TEXT}
    assert row["meta"]["synthetic_turns"] == 1 and row["meta"]["synthetic_content"] is True
    irrelevant = normalize(_real()["irrelevance_0"], "bfcl", no_call_text="No tool fits.")
    assert [m["content"] for m in irrelevant["messages"]][1] == "No tool fits."
    assert irrelevant["meta"]["irrelevance"] is True
    with pytest.raises(InvalidRecord, match="irrelevance='reject'"):
        normalize(_real()["irrelevance_0"], "bfcl", irrelevance="reject")
    with pytest.raises(InvalidRecord, match="option irrelevance must be one of"):
        normalize(_real()["irrelevance_0"], "bfcl", irrelevance="drop")


def test_system_turns_are_kept():
    record = next(r for r in _real().values() if r["question"][0][0]["role"] == "system")
    row = normalize(record, "bfcl")
    assert row["messages"][0] == {"role": "system", "content": record["question"][0][0]["content"]}


def test_examples():
    records = list(bfcl.iter_records(EXAMPLES / "bfcl.jsonl"))
    rows = [normalize(r) for r in records]
    assert len(rows) == 4 and all(row["warnings"] == [] for row in rows)
    assert _calls(rows[1])[0][1] == {"name": "hotel_reserve", "arguments": {
        "city": "成都", "check_in": "2024-07-03", "check_out": "2024-07-05",
        "preferences": {"breakfast": True, "max_price_per_night": 600}}}
    assert _calls(rows[2])[0][1] == {"name": "add_task", "arguments": {"title": "Call the plumber"}}
    assert rows[2]["messages"][5] == {"role": "assistant", "content": NO_CALL_TEXT}


# -- errors -----------------------------------------------------------------------------------------------------------
def _single(**changes) -> dict:
    record = {"id": "simple_python_77", "question": [[{"role": "user", "content": "Add 1 and 2"}]],
              "function": [{"name": "add", "description": "", "parameters": {"type": "dict", "properties": {
                  "a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}],
              "ground_truth": [{"add": {"a": [1], "b": [2]}}]}
    record.update(changes)
    return record


def _multi(**changes) -> dict:
    record = _single(id="multi_turn_base_77", question=[[{"role": "user", "content": "Add 1 and 2"}]],
                     ground_truth=[["add(1, b=2)"]], involved_classes=["MathAPI"])
    record.update(changes)
    return record


def test_older_bfcl_spellings():
    row = normalize(_single(question="Add 1 and 2", ground_truth={"add": {"a": [1], "b": [2, ""]}}), "bfcl")
    assert row["messages"][0] == {"role": "user", "content": "Add 1 and 2"}
    assert _calls(row) == [[{"name": "add", "arguments": {"a": 1, "b": 2}}]]
    flat = _single(question=[{"role": "user", "content": "Add 1 and 2"}])
    assert bfcl.detect(flat) and normalize(flat, "bfcl")["messages"][0]["content"] == "Add 1 and 2"


def test_positional_and_keyword_arguments_in_call_strings():
    assert _calls(normalize(_multi(), "bfcl")) == [[{"name": "add", "arguments": {"a": 1, "b": 2}}]]


@pytest.mark.parametrize("record, message", [
    (_single(ground_truth=None, id="simple_python_78"), "no ground_truth: load BFCL with iter_records"),
    (_single(ground_truth=[{"add": {"a": 1}}]), "must be a list of acceptable values"),
    (_single(ground_truth=[{"add": {}, "sub": {}}]), "exactly one function name"),
    (_single(ground_truth=[]), "non-empty list of calls"),
    (_single(question=[]), "no 'question' turns"),
    (_single(question=[[{"role": "user"}], {"role": "user"}]), r"question\[1\] must be a list"),
    (_single(id=5), "no string 'id'"),
    ({k: v for k, v in _multi().items() if k != "function"}, "multi_turn_func_doc is attached"),
    (_multi(ground_truth=[["add(1, 2)"], ["add(3, 4)"]]), "1 question turns but 2 answer turns"),
    (_multi(ground_truth=[["add(1, b=x)"]]), r"ground_truth\[0\]: argument add.b is not a literal"),
    (_multi(ground_truth=[["add(1, 2, 3)"]]), "3 positional argument"),
    (_multi(ground_truth=[["add(1, a=2)"]]), "both by position and by keyword"),
    (_multi(ground_truth=[["not a call"]]), "not Python call syntax"),
    (_multi(ground_truth=["The answer is 3"]), "final answer texts, not tool calls"),
    (_multi(ground_truth=[["add(1, 2)"], 3]), "list \\(one per turn\\)"),
    (_multi(ground_truth=[[3]]), "must be Python call strings"),
    ({"__unreadable__": "BFCL_v4_x.json:3: line is not valid JSON"}, "line is not valid JSON"),
    (_single(function=[{"name": "a.b", "parameters": {}}, {"name": "a_b", "parameters": {}}]), "both sanitize to"),
])
def test_malformed_records_are_rejected(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "bfcl")
