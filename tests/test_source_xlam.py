"""xLAM / APIGen normalizer: bundled examples, flat parameter maps and their type strings, parallel answers, errors.

Also hosts the detection-corpus helper used by the other helper-E source tests (xlam, toolbench, bfcl, toolace,
toolalpaca): every record under ../shared/sources and every bundled example, with the format it belongs to.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SHARED, read_records

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, xlam
from toolcall_templates.sources._reference import NO_CALL_TEXT

EXAMPLES = REPO_ROOT / "dataset_scripts" / "examples"
_FOLDERS = {"toolbench_dfs_answers": "toolbench", "toolalpaca_eval": "toolalpaca", "xlam_apigen": "xlam",
            "toolace": "toolace"}
_EXAMPLE_FORMATS = {"xlam", "toolbench", "bfcl", "toolace", "toolalpaca", "when2call"}


# -- detection corpus (shared with the other helper-E tests) -------------------------------------------------------------
def _records(path: Path) -> list:
    return read_records(path)


def _expected(path: Path) -> str | None:
    if path.parent == EXAMPLES:
        return path.stem if path.stem in _EXAMPLE_FORMATS else None
    parts = path.relative_to(SHARED / "sources").parts
    if parts[0] == "bfcl":
        return "bfcl" if parts[1] == "question" else None
    return _FOLDERS.get(parts[0])


@lru_cache(maxsize=1)
def detection_corpus() -> tuple[tuple[str, dict, str | None], ...]:
    """``(label, record, expected format)``: expected is one of helper E's formats, or None for other formats."""
    files = sorted(EXAMPLES.glob("*.jsonl"))
    if (SHARED / "sources").is_dir():
        files += [p for p in sorted((SHARED / "sources").rglob("*")) if p.is_file() and p.suffix in (".json", ".jsonl")]
    corpus = []
    for path in files:
        for index, record in enumerate(_records(path)):
            if isinstance(record, dict):
                corpus.append((f"{path.name}#{index}", record, _expected(path)))
    return tuple(corpus)


def assert_detector_claims_only_its_records(module) -> None:
    corpus = detection_corpus()
    assert any(expected == module.FORMAT for _, _, expected in corpus), "no records of this format in the corpus"
    wrong = [(label, expected) for label, record, expected in corpus if module.detect(record) != (expected == module.FORMAT)]
    assert not wrong, f"{module.FORMAT}.detect is wrong on {wrong[:10]}"


# -- bundled examples --------------------------------------------------------------------------------------------------
def _examples() -> list[dict]:
    return _records(EXAMPLES / "xlam.jsonl")


def test_detector_claims_only_xlam_records():
    assert_detector_claims_only_its_records(xlam)
    assert all(detect_format(record) == "xlam" for record in _examples())


def test_examples_normalize_without_warnings():
    rows = [normalize(record) for record in _examples()]
    assert len(rows) >= 3 and all(row["warnings"] == [] for row in rows)
    assert all(row["meta"]["reference_answer"] is True and row["meta"]["format"] == "xlam" for row in rows)
    assert [row["meta"]["upstream_id"] for row in rows] == [str(record["id"]) for record in _examples()]
    assert all("license" not in row["meta"] for row in rows)
    assert normalize(_examples()[0], "xlam", license="cc-by-4.0", language="en")["meta"]["license"] == "cc-by-4.0"


def test_parallel_answers_become_one_assistant_turn():
    row = normalize(_examples()[0], "xlam")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    calls = row["messages"][1]["tool_calls"]
    assert [c["function"] for c in calls] == [
        {"name": "air_quality_by_city", "arguments": {"city": "Madrid", "pollutants": ["pm25", "o3"]}},
        {"name": "air_quality_by_city", "arguments": {"city": "Berlin", "pollutants": ["pm25", "o3"]}}]
    assert row["messages"][1]["content"] == "" and len({c["id"] for c in calls}) == 2
    assert all(c["id"].startswith("call_") for c in calls)


def test_chinese_text_is_kept_byte_exact():
    record = _examples()[2]
    row = normalize(record, "xlam")
    assert row["messages"][0]["content"] == record["query"] == "帮我把 250 美元换算成人民币，再查一下上海现在的天气，用中文回答。"
    assert row["messages"][1]["tool_calls"][1]["function"]["arguments"] == {"city": "上海", "lang": "zh"}


def test_flat_parameter_maps_become_json_schema():
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in normalize(_examples()[1], "xlam")["tools"]}
    assert tools["max_subarray_sum"] == {"type": "object", "properties": {
        "nums": {"type": "array", "items": {"type": "integer"}, "description": "The input list of integers."}},
        "required": ["nums"]}
    assert tools["format_range"]["required"] == ["start", "end"]
    assert tools["format_range"]["properties"]["separator"] == {"type": "string", "description": "Text placed between the bounds.", "default": "-"}
    assert tools["merge_dictionaries"]["properties"]["dict1"]["type"] == "object"


def test_empty_answers_give_marked_refusal():
    row = normalize(_examples()[3], "xlam")
    assert row["messages"][1] == {"role": "assistant", "content": NO_CALL_TEXT}
    assert row["meta"]["irrelevance"] is True and row["meta"]["synthetic_content"] is True
    custom = normalize(_examples()[3], "xlam", no_call_text="I can't do that with these tools.")
    assert custom["messages"][1]["content"] == "I can't do that with these tools."


# -- tricky hand-written records ---------------------------------------------------------------------------------------
def _record(parameters: dict, answers, query: str = "q") -> dict:
    tools = [{"name": "f", "description": "d", "parameters": parameters}]
    return {"id": 7, "query": query, "tools": json.dumps(tools), "answers": answers}


@pytest.mark.parametrize("type_name, schema, required", [
    ("List[Dict[str, Any]]", {"type": "array", "items": {"type": "object"}}, True),
    ("List[Tuple[int, int]]", {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}, True),
    ("Optional[List[int]]", {"type": "array", "items": {"type": "integer"}}, False),
    ("Union[str, None]", {"type": "string"}, False),
    ("Union[int, float]", {}, True),
    ("str, optional", {"type": "string"}, False),
    ("float, default=0.5", {"type": "number"}, False),
    ("Set[str]", {"type": "array", "items": {"type": "string"}}, True),
])
def test_python_type_strings(type_name, schema, required):
    row = normalize(_record({"x": {"type": type_name, "description": "x"}}, "[]"), "xlam")
    parameters = row["tools"][0]["function"]["parameters"]
    assert parameters["properties"]["x"] == {**schema, "description": "x"}
    assert ("x" in parameters.get("required", [])) is required


def test_argument_named_properties_is_not_mistaken_for_a_schema():
    parameters = {"properties": {"type": "Dict[str, str]", "description": "Key/value pairs."},
                  "type": {"type": "str", "description": "Kind of item.", "default": "book"}}
    answers = [{"name": "f", "arguments": {"properties": {"color": "red"}, "type": "pen"}}]
    row = normalize(_record(parameters, json.dumps(answers)), "xlam")
    schema = row["tools"][0]["function"]["parameters"]
    assert list(schema["properties"]) == ["properties", "type"] and schema["required"] == ["properties"]
    assert schema["properties"]["properties"]["type"] == "object" and row["warnings"] == []


def test_answers_as_objects_and_arguments_in_any_encoding():
    answers = [{"name": "f", "arguments": "{\"a\": 1}"}, {"name": "f", "arguments": "'{\"a\": 2}'"},
               {"name": "f", "arguments": {"a": 3}}, {"name": "f", "arguments": "{'a': 4, 'b': None}"}]
    row = normalize(_record({"a": {"type": "int"}, "b": {"type": "Optional[str]"}}, answers), "xlam")
    assert [c["function"]["arguments"] for c in row["messages"][1]["tool_calls"]] == [
        {"a": 1}, {"a": 2}, {"a": 3}, {"a": 4, "b": None}]
    assert row["meta"]["repairs"] and row["warnings"] == ["messages[1].tool_calls[3] f: arguments.b: expected string, got null"]


def test_already_decoded_tools_and_a_single_answer_object():
    record = {"query": "Add 2 and 3", "tools": [{"name": "add", "description": "Adds.", "parameters": {
        "a": {"type": "int"}, "b": {"type": "int"}}}], "answers": {"name": "add", "arguments": {"a": 2, "b": 3}}}
    row = normalize(record, "xlam")
    assert row["messages"][1]["tool_calls"][0]["function"] == {"name": "add", "arguments": {"a": 2, "b": 3}}
    assert "upstream_id" not in row["meta"]


def test_strict_mode_rejects_undeclared_calls():
    record = _record({"a": {"type": "int"}}, [{"name": "g", "arguments": {}}])
    assert normalize(record, "xlam")["warnings"] == ["messages[1].tool_calls[0] g: calls a tool that is not declared"]
    with pytest.raises(InvalidRecord, match="strict mode"):
        normalize(record, "xlam", strict=True)


@pytest.mark.parametrize("record, message", [
    ({"query": "", "tools": "[]", "answers": "[]"}, "no 'query' text"),
    ({"query": "q", "tools": "[]", "answers": None}, "no 'answers'"),
    ({"query": "q", "tools": "[]", "answers": "{not json"}, "answers is not valid JSON"),
    ({"query": "q", "tools": "[]", "answers": "42"}, "must be a list of calls"),
    ({"query": "q", "tools": "[]", "answers": "[1]"}, r"answers\[0\] must be an object"),
    ({"query": "q", "tools": "[]", "answers": "[{\"arguments\": {}}]"}, r"answers\[0\] has no function name"),
    ({"query": "q", "tools": "[{\"description\": \"x\"}]", "answers": "[]"}, "function has no name"),
    ({"query": "q", "tools": "[]", "answers": "[{\"name\": \"f\", \"arguments\": \"[1, 2]\"}]"}, "not an object"),
    ({"query": "q", "tools": "{oops", "answers": "[]"}, "tools is not valid JSON"),
])
def test_malformed_records_are_rejected_with_a_reason(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "xlam")
