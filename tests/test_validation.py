"""Calls are checked against the declared tools; --strict turns findings into rejects."""

import pytest

from toolcall_templates import InvalidRecord, normalize

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                          "unit": {"type": "string", "enum": ["c", "f"]},
                                                          "days": {"type": "integer"}},
                         "required": ["city"]}}}]


def _record(arguments, name="get_weather"):
    return {"tools": TOOLS, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": name, "arguments": arguments}}]},
        {"role": "tool", "content": "{}"},
        {"role": "assistant", "content": "done"}]}


def test_valid_call_has_no_warning():
    assert normalize(_record({"city": "Paris", "unit": "c", "days": 2}))["warnings"] == []


@pytest.mark.parametrize("arguments, expected", [
    ({}, "missing required argument 'city'"),
    ({"city": 3}, "arguments.city: expected string, got integer"),
    ({"city": "Paris", "unit": "kelvin"}, "'kelvin' is not one of the allowed values"),
    ({"city": "Paris", "days": True}, "arguments.days: expected integer, got boolean"),
    ({"city": "Paris", "color": "red"}, "unexpected argument 'color'"),
])
def test_violations_are_warnings_naming_the_call(arguments, expected):
    warnings = normalize(_record(arguments))["warnings"]
    assert len(warnings) == 1 and expected in warnings[0] and warnings[0].startswith("messages[1].tool_calls[0] get_weather")


def test_undeclared_tool_warns_and_strict_rejects():
    assert "not declared" in normalize(_record({"x": 1}, name="get_time"))["warnings"][0]
    with pytest.raises(InvalidRecord, match="strict mode: .*not declared"):
        normalize(_record({"x": 1}, name="get_time"), strict=True)
    with pytest.raises(InvalidRecord, match="missing required argument"):
        normalize(_record({}), strict=True)
