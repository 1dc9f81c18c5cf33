"""Tool definitions from every source shape become OpenAI-wrapped JSON Schema tools."""

import pytest

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.tool_schema import map_type_name, normalize_tool, normalize_tools


def test_openai_wrapped_tool_is_kept():
    tool = {"type": "function", "function": {"name": "f", "description": "d",
                                              "parameters": {"type": "object", "properties": {"a": {"type": "string"}},
                                                             "required": ["a"]}}}
    assert normalize_tool(tool) == tool


def test_bare_tool_is_wrapped_and_missing_fields_filled():
    assert normalize_tool({"name": "ping"}) == {
        "type": "function", "function": {"name": "ping", "description": "", "parameters": {"type": "object", "properties": {}}}}


def test_xlam_flat_parameter_map():
    tool = normalize_tool({"name": "live_giveaways_by_type", "description": "x", "parameters": {
        "type": {"description": "giveaway type", "type": "str", "default": "game"},
        "ids": {"description": "ids", "type": "List[int]"},
        "note": {"description": "n", "type": "Optional[str]"},
        "limit": {"description": "l", "type": "int, optional"},
    }})
    params = tool["function"]["parameters"]
    assert params["type"] == "object"
    assert params["properties"]["type"] == {"type": "string", "description": "giveaway type", "default": "game"}
    assert params["properties"]["ids"]["type"] == "array" and params["properties"]["ids"]["items"] == {"type": "integer"}
    assert params["required"] == ["ids"]


def test_bfcl_dict_and_python_java_types():
    tool = normalize_tool({"name": "math.factorial", "description": "d", "parameters": {
        "type": "dict", "properties": {"n": {"type": "integer"}, "xs": {"type": "tuple", "items": {"type": "float"}},
                                       "m": {"type": "HashMap"}, "s": {"type": "String"}, "a": {"type": "any"}},
        "required": ["n"]}})
    props = tool["function"]["parameters"]["properties"]
    assert tool["function"]["parameters"]["type"] == "object"
    assert props["xs"] == {"type": "array", "items": {"type": "number"}}
    assert props["m"] == {"type": "object"} and props["s"] == {"type": "string"} and props["a"] == {}


def test_toolbench_optional_list_dropped_and_null_required_removed():
    tool = normalize_tool({"name": "f", "parameters": {"type": "object", "properties": {}, "required": None,
                                                       "optional": ["x"]}})
    assert tool["function"]["parameters"] == {"type": "object", "properties": {}}


def test_tools_json_string_and_non_function_tools():
    tools, notes = normalize_tools('[{"name": "a", "description": "", "parameters": {}}, {"type": "code_interpreter"}]')
    assert [t["function"]["name"] for t in tools] == ["a"]
    assert notes == ["skipped non-function tool #1 of type 'code_interpreter'"]
    assert normalize_tools("[]") == ([], [])
    assert normalize_tools(None) == ([], [])


@pytest.mark.parametrize("bad", [{"description": "no name"}, "[1,", 7, {"name": "f", "parameters": "[1]"}])
def test_bad_tools_raise(bad):
    with pytest.raises(InvalidRecord):
        normalize_tools([bad] if not isinstance(bad, str) else bad)


def test_function_level_required_is_lifted_into_parameters():
    tool = normalize_tool({"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"},
                                                                                      "b": {"type": "string"}}},
                           "required": ["a", "zzz"]})
    assert tool["function"]["parameters"]["required"] == ["a"]


@pytest.mark.parametrize("name, schema, optional", [
    ("List[Dict[str, Any]]", {"type": "array", "items": {"type": "object"}}, False),
    ("List[Tuple[int, int]]", {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}, False),
    ("float, default=0.5", {"type": "number"}, True),
    ("Optional[List[str]]", {"type": "array", "items": {"type": "string"}}, True),
    ("Union[int, None]", {"type": "integer"}, True),
    ("", {}, False),
])
def test_nested_and_optional_type_names(name, schema, optional):
    assert map_type_name(name) == (schema, optional)


@pytest.mark.parametrize("name, schema", [("str", {"type": "string"}), ("Dict[str, Any]", {"type": "object"}),
                                          ("list", {"type": "array"}), ("bool", {"type": "boolean"}),
                                          ("float", {"type": "number"}), ("Any", {})])
def test_map_type_name(name, schema):
    assert map_type_name(name)[0] == schema
