"""Hermes function calling (``<tools>`` / ``<tool_call>`` / ``<tool_response>``): real card records and edge cases."""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT, shared_path

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, hermes
from toolcall_templates.sources._instructions import restore_instructions

EXAMPLES = REPO_ROOT / "dataset_scripts" / "examples" / "hermes.jsonl"

AUTHOR_PROMPT = "You are a travel concierge; answer in the user's language."
HERMES_SYSTEM = (
    AUTHOR_PROMPT + "\nYou are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. "
    "You may call one or more functions to assist with the user query.\n<tools>\n{tools}\n</tools>\n"
    "For each function call return a json object with function name and arguments within <tool_call></tool_call> "
    "tags with the following schema:\n<tool_call>\n{{'arguments': <args-dict>, 'name': <function-name>}}\n</tool_call>\n"
)
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "天气", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "description": "time", "parameters": {
    "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}


def record(*turns: tuple[str, str], tools=(WEATHER, TIME), python_repr: bool = True) -> dict:
    listing = repr(list(tools)) if python_repr else json.dumps(list(tools), ensure_ascii=False)
    system = [("system", HERMES_SYSTEM.format(tools=listing))] if tools else []
    return {"conversations": [{"from": f, "value": v} for f, v in [*system, *turns]]}


def card(name: str) -> dict:
    return json.loads(shared_path("sources", "hermes_function_calling", name).read_text(encoding="utf-8"))


# -- real records ---------------------------------------------------------------------------------------------------
def test_all_card_records_normalize_and_are_detected():
    folder = shared_path("sources", "hermes_function_calling")
    outcomes = {"normalized": 0, "rejected": 0}
    for path in sorted(folder.glob("card_example_*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        assert detect_format(rec) == "hermes", path.name
        try:
            normalize(rec)
            outcomes["normalized"] += 1
        except InvalidRecord:
            outcomes["rejected"] += 1
    assert outcomes == {"normalized": 4, "rejected": 0}


def test_card_tool_use_record():
    row = normalize(card("card_example_1_tool_use_with_api_response.json"), "hermes")
    # the system prompt is Hermes' calling instructions only: removed (kept in meta), so the system message goes
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert row["meta"]["format_instructions"] == ["removed"]
    (removed,) = row["meta"]["removed_instructions"]
    assert removed["message"] == 0 and removed["dropped"] and [s["formats"] for s in removed["spans"]] == [["hermes"]]
    system = restore_instructions(row)["messages"][0]["content"]
    assert system == normalize(card("card_example_1_tool_use_with_api_response.json"), "hermes",
                               keep_format_instructions=True)["messages"][0]["content"]
    assert "'search_flights'" not in system and system.startswith("You are a function calling AI model.")
    assert system.endswith("{'arguments': <args-dict>, 'name': <function-name>}\n</tool_call>")
    assert [t["function"]["name"] for t in row["tools"]] == ["search_flights"]
    params = row["tools"][0]["function"]["parameters"]
    assert params["properties"]["class"]["enum"] == ["economy", "business", "first"]
    assert params["required"] == ["departure_city", "destination_city", "departure_date", "return_date", "class"]
    row["messages"].insert(0, {"role": "system", "content": system})  # the indices below are those of the source
    call_turn = row["messages"][2]
    assert call_turn["content"] == ""
    (call,) = call_turn["tool_calls"]
    assert call["function"] == {"name": "search_flights", "arguments": {
        "departure_city": "Los Angeles", "destination_city": "Auckland", "departure_date": "2023-07-10",
        "return_date": "2023-07-24", "class": "economy", "flexible_cancellation": True}}
    tool = row["messages"][3]
    assert tool["tool_call_id"] == call["id"] and tool["name"] == "search_flights"
    content = json.loads(tool["content"])
    assert content["flights"][2]["flight_number"] == "NZ6" and len(content["return_flights"]) == 3
    assert row["messages"][4]["content"].startswith("Here are the available flight options")
    assert row["meta"]["upstream_id"] == "753d8365-0e54-43b1-9514-3f9b819fd31c"
    assert row["meta"]["category"] == "E-commerce Platforms" and row["meta"]["tools_from"] == "system_prompt"
    assert row["warnings"] == []


def test_card_structured_extraction_repairs_escaped_newlines_and_nested_name():
    row = normalize(card("card_example_2_structured_extraction_fc.json"), "hermes")
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    # the author's task stays, the sentences about <tools> / <tool_call> go
    assert row["messages"][0]["content"] == ("You are an expert structured information extraction AI model. You will "
                                             "be provided with documents to extract information from.")
    (call,) = row["messages"][2]["tool_calls"]
    assert call["function"]["name"] == "ExpertQAExtractor"
    queries = call["function"]["arguments"]["queries"]
    assert list(call["function"]["arguments"]) == ["queries"] and len(queries) == 3
    assert queries[0].startswith("How can the concept of graph traversal")
    assert row["meta"]["repairs"] == ["ExpertQAExtractor: escaped_newlines", "ExpertQAExtractor: name_inside_arguments"]
    # the upstream arguments do not match the declared schema: reported, not hidden
    assert any("missing required argument 'application_questions'" in w for w in row["warnings"])
    with pytest.raises(InvalidRecord, match="strict mode"):
        normalize(card("card_example_2_structured_extraction_fc.json"), "hermes", strict=True)


@pytest.mark.parametrize("name, title", [
    ("card_example_3_json_mode_pydantic.json", "MovieDatabaseEntry"),
    ("card_example_4_json_mode_agentic.json", None),
])
def test_card_json_mode_rows_have_no_tools(name, title):
    row = normalize(card(name), "hermes")
    assert not row["tools"]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert json.loads(row["messages"][2]["content"])  # the bare JSON answer is kept verbatim
    assert row["meta"]["json_mode"] is True and row["meta"]["json_schema"].get("title") == title
    assert "<schema>" in row["messages"][0]["content"]


# -- hand-written edge cases -----------------------------------------------------------------------------------------
def test_parallel_python_literal_calls_and_responses_linked_by_name():
    rec = record(
        ("human", "北京的天气和时间？"),
        ("gpt", ("<tool_call>\n{'arguments': {'city': '北京', 'days': 2}, 'name': 'get_weather'}\n</tool_call>\n"
                "<tool_call>\n{'arguments': {'tz': 'Asia/Shanghai'}, 'name': 'get_time'}\n</tool_call>")),
        ("tool", ('<tool_response>\n{"name": "get_time", "content": "08:00"}\n</tool_response>\n'
                 "<tool_response>\n{'name': 'get_weather', 'content': {'temp': 20, 'rain': None}}\n</tool_response>")),
        ("gpt", "北京 20 度，现在 8 点。"),
    )
    row = normalize(rec, "hermes")
    calls = row["messages"][2]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [{"city": "北京", "days": 2}, {"tz": "Asia/Shanghai"}]
    time_result, weather_result = row["messages"][3], row["messages"][4]
    assert time_result["tool_call_id"] == calls[1]["id"] and time_result["content"] == "08:00"
    assert weather_result["tool_call_id"] == calls[0]["id"]
    assert weather_result["content"] == '{"temp": 20, "rain": null}'
    assert row["messages"][5]["content"] == "北京 20 度，现在 8 点。"
    assert row["warnings"] == []


def test_json_payloads_think_text_outside_tags_and_double_encoded_arguments():
    rec = record(
        ("human", "Weather in Paris?"),
        ("gpt", ("<think>\nNeed the weather tool.\n</think>\nLet me check.\n<tool_call>\n"
                '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}\n</tool_call><|im_end|>')),
        ("tool", "<tool_response>\nSunny\n</tool_response>"),
        ("gpt", "It is sunny."),
        python_repr=False,
    )
    row = normalize(rec, "hermes")
    turn = row["messages"][2]
    assert turn["content"] == "Let me check." and turn["reasoning_content"] == "Need the weather tool."
    assert turn["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert "<tool_call>" not in turn["content"]
    assert row["messages"][3]["content"] == "Sunny"


def test_responses_in_user_turn_unclosed_tag_and_list_payload():
    rec = record(
        ("human", "Two cities"),
        ("gpt", ('<tool_call>\n[{"name": "get_weather", "arguments": {"city": "A"}}, '
                '{"name": "get_weather", "arguments": {"city": "B"}}]')),
        ("human", "<tool_response>\nra\n</tool_response>\n<tool_response>\nrb\n</tool_response>"),
        ("gpt", "done"),
    )
    row = normalize(rec, "hermes")
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert [m["content"] for m in row["messages"][3:5]] == ["ra", "rb"]


def test_author_text_around_the_instructions_stays():
    row = normalize(record(("human", "hi"), ("gpt", "<tool_call>\n{'arguments': {'tz': 'UTC'}, 'name': 'get_time'}\n</tool_call>")),
                    "hermes")
    assert row["messages"][0] == {"role": "system", "content": AUTHOR_PROMPT}
    (removed,) = row["meta"]["removed_instructions"]
    assert removed["dropped"] is False and removed["spans"][0]["text"].lstrip().startswith("You are a function calling")


def test_user_turn_with_response_tags_but_no_pending_call_stays_user_text():
    text = "<tool_response>\nwhat does this mean?\n</tool_response>"
    row = normalize(record(("human", text), ("gpt", "It is a tool result wrapper.")), "hermes")
    assert roles_of(row) == ["system", "user", "assistant"] and row["messages"][1]["content"] == text


def roles_of(row: dict) -> list[str]:
    return [m["role"] for m in row["messages"]]


def test_record_tools_column_and_keep_tool_prompt_option():
    rec = record(("human", "hi"), ("gpt", "<tool_call>\n{'arguments': {'tz': 'UTC'}, 'name': 'get_time'}\n</tool_call>"))
    kept = normalize(rec, "hermes", keep_tool_prompt=True)
    assert "<tools>\n[{'type': 'function'" in kept["messages"][0]["content"]
    rec["tools"] = json.dumps([TIME])
    row = normalize(rec, "hermes")
    assert [t["function"]["name"] for t in row["tools"]] == ["get_time"] and row["meta"]["tools_from"] == "record"


def test_examples_file_normalizes_with_expected_shapes():
    rows = [normalize(json.loads(line)) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 3 and all(r["meta"]["format"] == "hermes" for r in rows)
    assert rows[0]["messages"][0]["role"] == "user"  # the system prompt was Hermes' instructions only
    assert len(rows[0]["messages"][1]["tool_calls"]) == 2  # parallel calls
    chinese = rows[1]["messages"]
    assert chinese[0] == {"role": "system", "content": "你是一个函数调用助手。"}  # the tag sentences went, the persona stays
    assert chinese[2]["tool_calls"][0]["function"]["arguments"]["from_city"] == "北京"
    assert chinese[6]["content"] == "好的，正在为您预订。"
    assert rows[2]["meta"]["json_mode"] is True
    assert all(r["warnings"] == [] for r in rows)


# -- errors ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("turns, message", [
    ((("human", "x"), ("gpt", "<tool_call>\n{not a payload\n</tool_call>")), "neither JSON nor a Python literal"),
    ((("human", "x"), ("gpt", "<tool_call>\n{'arguments': {}}\n</tool_call>")), "has no 'name'"),
    ((("human", "x"), ("gpt", "<tool_call>\n{'arguments': {'name': 'rm_rf'}}\n</tool_call>")), "not a declared tool"),
    ((("human", "x"), ("tool", "<tool_response>\n1\n</tool_response>"), ("gpt", "y")), "answers no preceding tool call"),
    ((("human", "x"), ("gpt", "<tool_call>\n{'arguments': {'tz': 'UTC'}, 'name': 'get_time'}\n</tool_call>"),
      ("tool", "note <tool_response>\n1\n</tool_response>")), "text outside its <tool_response>"),
    ((("human", "x"), ("narrator", "<tool_call>"), ("gpt", "y")), "unsupported role 'narrator'"),
])
def test_malformed_records_are_rejected_with_reason(turns, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record(*turns), "hermes")


def test_bad_tools_block_and_missing_turns_are_rejected():
    bad_tools = {"conversations": [{"from": "system", "value": "<tools>\n[{'type': 'function', \n</tools>"},
                                   {"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}]}
    with pytest.raises(InvalidRecord, match="<tools> block"):
        normalize(bad_tools, "hermes")
    with pytest.raises(InvalidRecord, match="no 'conversations' or 'messages'"):
        normalize({"id": "1"}, "hermes")
    with pytest.raises(InvalidRecord, match="not an object"):
        normalize({"conversations": ["<tool_call>"]}, "hermes")


def test_detector_is_specific():
    assert hermes.detect(record(("human", "x"), ("gpt", "<tool_call>{'name': 'a', 'arguments': {}}</tool_call>")))
    sharegpt_like = {"conversations": [{"from": "human", "value": "<tool_call>?"}, {"from": "function_call", "value": "{}"}],
                     "tools": "[]"}
    assert not hermes.detect(sharegpt_like)
    assert not hermes.detect({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]})
    assert not hermes.detect({"messages": [{"role": "assistant", "content": "<tool_call>", "tool_calls": []}]})
    assert not hermes.detect({"text": "<tool_call>"})


def test_non_ascii_survives_byte_exact():
    text = "東京の天気は？ 🌧️ café"
    row = normalize(record(("human", text), ("gpt", "<tool_call>\n{'arguments': {'city': '東京'}, 'name': 'get_weather'}\n</tool_call>")), "hermes")
    assert row["messages"][1]["content"] == text
    assert row["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"city": "東京"}
