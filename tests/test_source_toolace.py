"""ToolACE normalizer: tools from the system text, Python call syntax (ast), tool result lists, edge cases, errors."""

from __future__ import annotations

import json

import pytest
from test_source_xlam import EXAMPLES, assert_detector_claims_only_its_records

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, toolace
from toolcall_templates.sources._pycall import parse_calls

TOOLS = [{"name": "get_weather", "description": "Current weather.", "parameters": {"type": "dict", "properties": {
    "city": {"type": "string", "description": "City."}, "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city"]}, "required": None},
         {"name": "Get Stock Price", "description": "Price of a ticker.", "parameters": {"type": "dict", "properties": {
             "symbol": {"type": "string"}, "realtime": {"type": "boolean"}}, "required": ["symbol"]}, "required": None}]
SYSTEM = ("You are an expert in composing functions.\nHere is a list of functions in JSON format that you can invoke:\n"
          + json.dumps(TOOLS) + ". \nReturn calls as [func(param=value)].\n")


def _record(*turns: tuple[str, str], system: str = SYSTEM) -> dict:
    return {"system": system, "conversations": [{"from": role, "value": value} for role, value in turns]}


def _examples() -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / "toolace.jsonl").read_text(encoding="utf-8").splitlines()]


def _calls(row: dict) -> list[list[dict]]:
    return [[c["function"] for c in m["tool_calls"]] for m in row["messages"] if m.get("tool_calls")]


def test_detector_claims_only_toolace_records():
    assert_detector_claims_only_its_records(toolace)
    assert all(detect_format(record) == "toolace" for record in _examples())


def test_examples_normalize_without_warnings():
    rows = [normalize(record) for record in _examples()]
    assert len(rows) == 3 and all(row["warnings"] == [] for row in rows)
    assert all(row["meta"]["system_prompt"] == record["system"] for row, record in zip(rows, _examples()))
    assert all(row["messages"][0]["role"] == "user" for row in rows)


def test_parallel_calls_and_results_are_linked_by_position():
    row = normalize(_examples()[0], "toolace")
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "assistant", "user", "assistant",
                                             "user", "assistant", "tool", "assistant"]
    calls = messages[1]["tool_calls"]
    assert [c["function"] for c in calls] == [
        {"name": "get_market_trends", "arguments": {"trend_type": "GAINERS", "country": "us"}},
        {"name": "get_market_trends", "arguments": {"trend_type": "MARKET_INDEXES", "country": "de"}}]
    assert [messages[2]["tool_call_id"], messages[3]["tool_call_id"]] == [c["id"] for c in calls]
    assert json.loads(messages[3]["content"]) == {"trends": [{"name": "DAX", "value": 18472.3, "change_percent": 0.8},
                                                            {"name": "MDAX", "value": 25931.0, "change_percent": -0.3}]}
    assert messages[8]["tool_calls"][0]["function"]["arguments"] == {"amount": 1250.0, "from": "EUR", "to": "USD"}
    assert row["tools"][1]["function"]["parameters"]["properties"]["amount"]["type"] == "number"


def test_chinese_row_is_byte_exact():
    record = _examples()[1]
    row = normalize(record, "toolace")
    assert row["messages"][0]["content"] == record["conversations"][0]["value"]
    assert _calls(row) == [[{"name": "搜索餐厅", "arguments": {"city": "成都", "cuisine": ["川菜", "火锅"],
                                                            "budget": {"min": 80, "max": 150}}}]]
    assert json.loads(row["messages"][2]["content"])["restaurants"][0]["name"] == "蜀九香火锅"
    assert row["messages"][2]["name"] == "搜索餐厅"


def test_keep_system_option():
    row = normalize(_examples()[2], "toolace", keep_system=True)
    assert row["messages"][0] == {"role": "system", "content": _examples()[2]["system"]}
    assert "system_prompt" not in row["meta"]


def test_tools_in_text_takes_the_first_function_list():
    text = 'Note [1] and [{"x": 1}] are not tools.\n[{"name": "a", "parameters": {}}] trailing [{"name": "b"}]'
    assert toolace.tools_in_text(text) == [{"name": "a", "parameters": {}}]
    assert toolace.tools_in_text("no tools here [1, 2]") is None


def test_non_identifier_names_keywords_json_literals_and_positional_arguments():
    row = normalize(_record(
        ("user", "Weather in Oslo in celsius, and AAPL's realtime price?"),
        ("assistant", '[get_weather("Oslo", unit="c"), Get Stock Price(symbol="AAPL", realtime=true)]'),
        ("tool", json.dumps([{"name": "get_weather", "results": {"temp": -3}},
                             {"name": "Get Stock Price", "results": {"price": 227.5}}])),
        ("assistant", "Oslo is at -3 °C; AAPL trades at $227.50.")), "toolace")
    assert _calls(row) == [[{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}},
                            {"name": "Get Stock Price", "arguments": {"symbol": "AAPL", "realtime": True}}]]
    assert row["messages"][3]["name"] == "Get Stock Price" and row["warnings"] == []


def test_results_link_by_name_when_order_differs():
    row = normalize(_record(
        ("user", "both"), ("assistant", '[get_weather(city="Rome"), Get Stock Price(symbol="MSFT")]'),
        ("tool", json.dumps([{"name": "Get Stock Price", "results": {"price": 1}},
                             {"name": "get_weather", "results": {"temp": 20}}]))), "toolace")
    calls = row["messages"][1]["tool_calls"]
    assert [m["tool_call_id"] for m in row["messages"][2:]] == [calls[1]["id"], calls[0]["id"]]


def test_bare_call_think_block_markers_and_plain_tool_text():
    row = normalize(_record(
        ("user", "weather?"),
        ("assistant", "<think>The user wants the weather.</think>get_weather(city='Lima')<|im_end|>"),
        ("tool", "sunny, 24 degrees"),
        ("assistant", "It is sunny and 24 °C in Lima.</s>")), "toolace")
    assistant = row["messages"][1]
    assert assistant["reasoning_content"] == "The user wants the weather." and assistant["content"] == ""
    assert assistant["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Lima"}}
    assert row["messages"][2]["content"] == "sunny, 24 degrees"
    assert row["messages"][3] == {"role": "assistant", "content": "It is sunny and 24 °C in Lima."}


def test_text_with_brackets_is_not_taken_for_a_call():
    text = "[Note] I can check the weather (any city) for you."
    row = normalize(_record(("user", "hi"), ("assistant", text)), "toolace")
    assert row["messages"][1] == {"role": "assistant", "content": text}


def test_undeclared_call_is_a_warning_and_strict_rejects_it():
    record = _record(("user", "x"), ("assistant", "[book_taxi(to='SFO')]"))
    assert normalize(record, "toolace")["warnings"] == [
        "messages[1].tool_calls[0] book_taxi: calls a tool that is not declared"]
    with pytest.raises(InvalidRecord, match="strict mode"):
        normalize(record, "toolace", strict=True)


@pytest.mark.parametrize("text, expected", [
    ("[f(a=1, b='x'), g()]", [("f", [], {"a": 1, "b": "x"}), ("g", [], {})]),
    ("[f(a=(1, 2), b={1, 2}, c=-3.5, d=None)]", [("f", [], {"a": [1, 2], "b": [1, 2], "c": -3.5, "d": None})]),
    ("[f(d={'k': [true, false, null]})]", [("f", [], {"d": {"k": [True, False, None]}})]),
    ("pkg.mod.f(1, 'two')", [("pkg.mod.f", [1, "two"], {})]),
    ("[f(class='a', from='b')]", [("f", [], {"class": "a", "from": "b"})]),
    ("[f(text='a, b = c (d)')]", [("f", [], {"text": "a, b = c (d)"})]),
])
def test_python_call_parser(text, expected):
    assert [(c.name, c.args, c.kwargs) for c in parse_calls(text)] == expected


@pytest.mark.parametrize("text, message", [
    ("[f(a=b)]", "not a literal value"),
    ("[f(**kw)]", r"unpacks \*\*arguments"),
    ("[f(*a)]", r"unpacks \*arguments"),
    ("[f(a=1, a=2)]", "repeats argument"),
    ("[f(a=1), 3]", "not a function call"),
    ("[f(a=1j)]", "complex number"),
    ("[f(a=f'x')]", "not a literal value"),
    ("[f(a=1]", "not Python call syntax"),
])
def test_python_call_parser_rejects(text, message):
    with pytest.raises(InvalidRecord, match=message):
        parse_calls(text)


@pytest.mark.parametrize("record, message", [
    ({"conversations": [{"from": "user", "value": "x"}]}, "no 'system' text"),
    (_record(("user", "x"), system="You are helpful."), "holds no JSON list of functions"),
    ({"system": SYSTEM, "conversations": []}, "no 'conversations' list"),
    (_record(("user", "x"), ("narrator", "y")), "unsupported role 'narrator'"),
    ({"system": SYSTEM, "conversations": [{"from": "user", "value": 3}]}, "value must be a string"),
    (_record(("user", "x"), ("assistant", "[get_weather(city='a',]")), "call list does not parse"),
    (_record(("user", "x"), ("tool", "[]")), "answers no preceding tool call"),
    (_record(("user", "x"), ("assistant", "[get_weather(city='a')]"),
             ("tool", json.dumps([{"name": "get_weather", "results": 1}, {"name": "get_weather", "results": 2}]))),
     "answers no preceding tool call"),
    (_record(("user", "x"), ("assistant", "[get_weather('a', 'c', 'x')]")), "3 positional argument"),
    (_record(("user", "only a question")), "no assistant turn"),
])
def test_malformed_records_are_rejected(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "toolace")
