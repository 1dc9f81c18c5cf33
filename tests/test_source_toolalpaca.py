"""ToolAlpaca normalizer: exploding toolsets, tools from prose, the 21 real toolsets (214 instructions), errors."""

from __future__ import annotations

import collections
import json
from functools import cache
from pathlib import Path

import pytest
from conftest import rows_and_errors, shared_path
from test_source_xlam import EXAMPLES, assert_detector_claims_only_its_records

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, toolalpaca
from toolcall_templates.sources._toolalpaca_tools import parameter_schema


@cache
def _real(name: str) -> tuple[dict, ...]:
    return tuple(toolalpaca.iter_records(shared_path("sources", "toolalpaca_eval", name)))


def _outcomes(name: str) -> tuple[list[dict], list[str]]:
    return rows_and_errors(_real(name), "toolalpaca")


def _calls(row: dict) -> list[dict]:
    return [c["function"] for m in row["messages"] for c in m.get("tool_calls", [])]


def test_detector_claims_only_toolalpaca_records():
    assert_detector_claims_only_its_records(toolalpaca)
    assert all(detect_format(record) == "toolalpaca" for record in _real("eval_real.json"))


def test_iter_records_explodes_every_instruction():
    assert len(_real("eval_real.json")) == 114 and len(_real("eval_simulated.json")) == 100
    assert len(list(toolalpaca.iter_records(shared_path("sources", "toolalpaca_eval")))) == 214
    first = _real("eval_real.json")[0]
    assert first["Name"] == "Nager.Date" and first["instruction_index"] == 0
    assert first["Instruction"] == "Can you check if today is a public holiday in China?"
    assert first["Golden_Answer"] == [{"Action": "PublicHolidayIsTodayPublicHoliday",
                                       "Action_Input": "{\"countryCode\": \"CN\"}"}]
    assert "Instructions" not in first and "Golden_Answers" not in first


def test_real_counts_and_reasons():
    real_rows, real_errors = _outcomes("eval_real.json")
    assert len(real_rows) == 110 and len(real_errors) == 4
    assert all("arguments are neither JSON nor a Python literal" in e for e in real_errors)
    sim_rows, sim_errors = _outcomes("eval_simulated.json")
    assert len(sim_rows) == 67 and len(sim_errors) == 33
    reasons = collections.Counter("getDetails" if "getDetails" in e else "placeholder" if "placeholder" in e else e
                                  for e in sim_errors)
    assert reasons == {"getDetails": 8, "placeholder": 25}
    assert all(row["meta"]["reference_answer"] is True for row in real_rows + sim_rows)


def test_real_row_exactly():
    row = normalize(_real("eval_real.json")[0], "toolalpaca")
    assert row["messages"][0] == {"role": "user", "content": "Can you check if today is a public holiday in China?"}
    assert _calls(row) == [{"name": "PublicHolidayIsTodayPublicHoliday", "arguments": {"countryCode": "CN"}}]
    assert row["meta"] == {"toolset": "Nager.Date", "instruction_index": 0, "license": "apache-2.0",
                           "category": "Calendar", "reference_answer": True, "format": "toolalpaca"}
    tools = {t["function"]["name"]: t["function"] for t in row["tools"]}
    assert len(tools) == 8 and "components" not in tools
    today = tools["PublicHolidayIsTodayPublicHoliday"]
    assert today["description"].startswith("Is today a public holiday\nOutput: Today is a public holiday.")
    assert today["parameters"] == {"type": "object", "properties": {
        "countryCode": {"type": "string",
                        "description": "Two-character represented country code. For instance, CN or cn represents China."},
        "countyCode": {"type": "string"}, "offset": {"type": "integer", "description": "utc timezone offset."}},
        "required": ["countryCode"]}
    assert tools["LongWeekendLongWeekend"]["parameters"]["properties"]["year"] == {"type": "integer"}


def test_parallel_golden_answer_and_optional_action():
    auth = next(r for r in _real("eval_simulated.json") if r["Name"] == "Auth0" and r["instruction_index"] == 11)
    row = normalize(auth, "toolalpaca")
    assert [c["name"] for c in _calls(row)] == ["getUserProfile", "updateUserProfile"]
    assert len(row["messages"]) == 2 and row["meta"]["optional_actions"] == ["updateUserProfile"]
    role = next(t for t in row["tools"] if t["function"]["name"] == "createRole")["function"]["parameters"]
    assert role["properties"]["permissions"]["type"] == "array" and role["properties"]["permissions"]["items"] == {"type": "object"}


def test_undeclared_golden_action_is_a_warning():
    rows, _ = _outcomes("eval_real.json")
    warned = [w for row in rows for w in row["warnings"] if "not declared" in w]
    assert "messages[1].tool_calls[0] vatsim_pilots_get: calls a tool that is not declared" in warned


@pytest.mark.parametrize("spec, schema, required", [
    ("Required. integer. ", {"type": "integer"}, True),
    ("string. One of: [wild, leucistic, albino]. The color.", {"type": "string", "enum": ["wild", "leucistic", "albino"],
                                                                "description": "The color."}, False),
    ("integer. One of: [1, 5, 10]. Page size.", {"type": "integer", "enum": [1, 5, 10], "description": "Page size."}, False),
    ("Required. string. The provider. One of: [google, facebook].",
     {"type": "string", "enum": ["google", "facebook"], "description": "The provider. One of: [google, facebook]."}, True),
    ("Array[string]. Tags.", {"type": "array", "items": {"type": "string"}, "description": "Tags."}, False),
    ("Array[Object{id: string. The id., name: string. The name.}. ]. Items.",
     {"type": "array", "items": {"type": "object"}, "description": "Items."}, False),
    ("Object.  Filters to apply.", {"type": "object", "description": "Filters to apply."}, False),
    ("Optional. boolean. Verbose output.", {"type": "boolean", "description": "Verbose output."}, False),
    ("The name of the city.", {"description": "The name of the city."}, False),
])
def test_parameter_prose(spec, schema, required):
    assert parameter_schema(spec) == (schema, required)


def test_examples():
    records = list(toolalpaca.iter_records(EXAMPLES / "toolalpaca.jsonl"))
    rows = [normalize(record) for record in records]
    assert len(rows) == 7 and all(row["warnings"] == [] for row in rows)
    chinese = next(row for row in rows if row["meta"]["toolset"] == "古诗词 API")
    assert chinese["messages"][0]["content"] == "帮我找几首李白写月亮的唐诗。"
    assert _calls(chinese) == [{"name": "searchPoems", "arguments": {"keyword": "月", "author": "李白", "dynasty": "唐"}}]
    assert len(_calls(rows[1])) == 2


# -- training instances and errors -------------------------------------------------------------------------------------
DESCRIPTIONS = {"getWeather": "Get the weather.\nParameters: {\"city\": \"Required. string. City name.\"}\nOutput: Weather."}


def test_training_instances_become_transcripts():
    toolset = {"Name": "Weather", "Function_Description": DESCRIPTIONS, "Instructions": ["Weather in Kyiv?"],
               "Instances": [{"input": "Weather in Kyiv?", "output": "It is 21 °C and clear in Kyiv.",
                              "Final Thought": "The API answered, I can reply.",
                              "intermediate_steps": [[["getWeather", "{\"city\": \"Kyiv\"}",
                                                       "Thought: I should call the weather API.\nAction: getWeather\nAction Input: {\"city\": \"Kyiv\"}"],
                                                      "Status Code: 200. Response: {\"temp\": 21, \"sky\": \"clear\"}"]]}]}
    records = list(toolalpaca.explode(toolset))
    assert len(records) == 1 and "Instance" in records[0]
    row = normalize(records[0], "toolalpaca")
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["reasoning_content"] == "I should call the weather API." and messages[1]["content"] == ""
    assert messages[1]["tool_calls"][0]["function"] == {"name": "getWeather", "arguments": {"city": "Kyiv"}}
    assert messages[2]["tool_call_id"] == messages[1]["tool_calls"][0]["id"]
    assert messages[2]["content"].startswith("Status Code: 200.")
    assert messages[3] == {"role": "assistant", "content": "It is 21 °C and clear in Kyiv.",
                           "reasoning_content": "The API answered, I can reply."}
    assert row["meta"]["reference_answer"] is False


def _exploded(answer, **changes) -> dict:
    record = {"Name": "Weather", "Function_Description": DESCRIPTIONS, "Instruction": "Weather in Kyiv?",
              "Golden_Answer": answer, "instruction_index": 0}
    record.update(changes)
    return record


def test_unreadable_line_in_a_jsonl_file(tmp_path: Path):
    path = tmp_path / "toolsets.jsonl"
    toolset = {"Name": "W", "Function_Description": DESCRIPTIONS, "Instructions": ["a"],
               "Golden_Answers": [[{"Action": "getWeather", "Action_Input": "{\"city\": \"Oslo\"}"}]]}
    path.write_text(json.dumps(toolset) + "\n{broken\n")
    records = list(toolalpaca.iter_records(path))
    assert len(records) == 2 and normalize(records[0], "toolalpaca")["messages"][0]["content"] == "a"
    with pytest.raises(InvalidRecord, match="toolsets.jsonl:2: line is not valid JSON"):
        normalize(records[1], "toolalpaca")


@pytest.mark.parametrize("record, message", [
    ({"Name": "W", "Function_Description": DESCRIPTIONS, "Instructions": ["a", "b"]}, "holds 2 instructions: explode"),
    (_exploded(None), "no golden answer"),
    (_exploded([]), "no golden answer"),
    (_exploded(["getWeather"]), "must be an object with Action"),
    (_exploded([{"Action_Input": "{}"}]), "has no Action name"),
    (_exploded([{"Action": "getWeather", "Action_Input": "{\"city\": \"city\": \"Kyiv\"}"}]), "neither JSON nor a Python literal"),
    (_exploded([{"Action": "getWeather", "Action_Input": "{\"city\": ${city from getDetails}}"}]), "placeholder"),
    (_exploded([{"Action": "getDetails", "Action_Input": "{\"Question\": \"Which city?\"}"}]), "asks the user"),
    (_exploded([{"Action": "getWeather", "Action_Input": "{}"}], Instruction=""), "no instruction text"),
    (_exploded([], Function_Description={"f": "x\nParameters: {broken"}), "Parameters are not valid JSON"),
    (_exploded([], Function_Description={"f": 3}), "must be text"),
    (_exploded([], Function_Description={}), "no 'Function_Description'"),
    ({"Function_Description": DESCRIPTIONS, "Instance": {"input": "x", "intermediate_steps": [["getWeather"]]}},
     r"intermediate_steps\[0\] must be"),
    ({"Function_Description": DESCRIPTIONS, "Instance": {"input": "x", "intermediate_steps": []}}, "no final 'output'"),
])
def test_malformed_records_are_rejected(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "toolalpaca")
