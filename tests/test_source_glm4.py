"""GLM-4 / ChatGLM3 normalizer: the documentation examples, every call encoding, errors."""

from __future__ import annotations

import json

import pytest

from conftest import shared_path
from test_source_sharegpt import EXAMPLES, assert_detector_claims_only_its_records, detection_corpus, read_records
from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, glm4
from toolcall_templates.sources.glm4 import parse_tool_call_code


def _doc(name):
    return read_records(shared_path("sources", "glm4_chatglm3", "doc_examples", name))


def test_every_doc_example_normalizes():
    folder = shared_path("sources", "glm4_chatglm3", "doc_examples")
    records = [record for path in sorted(folder.iterdir()) for record in read_records(path)]
    rows = [normalize(record, "glm4") for record in records]
    assert len(rows) == 5
    assert sorted(row["meta"]["variant"] for row in rows) == ["chatglm3", "chatglm3", "glm4", "glm4", "glm4"]


def test_glm4_readme_sample_exactly():
    (record,) = _doc("glm4_finetune_README_tool_sample.json")
    assert detect_format(record) == "glm4"
    row = normalize(record)
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]  # empty system dropped
    call = messages[1]["tool_calls"][0]
    assert messages[1]["content"] == ""
    assert call["function"] == {"name": "get_recommended_books",
                                "arguments": {"interests": ["history", "science fiction"]}}
    assert messages[2]["tool_call_id"] == call["id"] and messages[2]["name"] == "get_recommended_books"
    assert messages[2]["content"] == record["messages"][3]["content"]
    assert row["tools"] == [record["messages"][0]["tools"][0]]
    assert row["warnings"] == []


def test_first_release_samples_plain_and_tool():
    plain, tool = _doc("glm4_finetune_demo_README_2024-06_samples.jsonl")
    assert not glm4.detect(plain) and glm4.detect(tool)
    row = normalize(plain, "glm4")
    assert row["messages"][0]["content"] == "类型#裤*材质#牛仔布*风格#性感" and row["tools"] is None
    assert normalize(tool)["messages"][1]["tool_calls"][0]["function"]["name"] == "get_recommended_books"


def test_chatglm3_agent_chat_metadata_and_python_call():
    (record,) = _doc("chatglm3_openai_api_demo_agent-chat.json")
    row = normalize(record)
    assert row["meta"]["format"] == "glm4" and row["meta"]["variant"] == "chatglm3"
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "tool"]
    assert messages[0]["content"] == "你好!" and messages[1]["content"] == "你好！请问有什么我可以帮助你的吗？"
    assert messages[3]["content"] == ""
    assert messages[3]["tool_calls"][0]["function"] == {"name": "Calculator", "arguments": {"formula": "37*8+7/2"}}
    assert messages[4]["content"] == "299.5" and messages[4]["tool_call_id"] == messages[3]["tool_calls"][0]["id"]
    assert row["warnings"] == ["messages[3].tool_calls[0] Calculator: calls a tool that is not declared"]


def test_chatglm3_finetune_template_with_comments():
    (record,) = _doc("chatglm3_finetune_README_tool_template.jsonc")
    row = normalize(record, "glm4")
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]
    assert messages[2]["content"] == "<assistant thought to text>"
    assert messages[2]["tool_calls"][0]["function"] == {"name": "<name of the tool to be called",
                                                       "arguments": {"<parameter_name>": "<parameter_value>"}}
    assert messages[3]["content"] == "<observation>"


# -- hand-written edge cases ---------------------------------------------------------------------------------------
WEATHER = {"type": "function", "function": {"name": "weather", "description": "该工具只能得到指定城市的天气信息\n",
           "parameters": {"type": "object", "properties": {"city": {"description": "城市名称", "type": "string"}},
                          "required": ["city"]}}}


def _glm(*messages, tools=(WEATHER,), system_content=None):
    return {"messages": [{"role": "system", "content": system_content, "tools": list(tools)}, *messages]}


def test_name_newline_json_content_issue_684():
    record = _glm({"role": "user", "content": "今天深圳天气怎么样"},
                  {"role": "assistant", "content": 'weather\n{"city": "深圳"}'})
    row = normalize(record)
    assert row["messages"] == [
        {"role": "user", "content": "今天深圳天气怎么样"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": row["messages"][1]["tool_calls"][0]["id"], "type": "function",
             "function": {"name": "weather", "arguments": {"city": "深圳"}}}]},
    ]
    assert row["tools"][0]["function"]["description"] == "该工具只能得到指定城市的天气信息\n"


def test_name_newline_text_is_a_call_only_when_declared_or_answered():
    text = 'Summary\n{"a": 1}'
    plain = normalize(_glm({"role": "user", "content": "q"}, {"role": "assistant", "content": text}))
    assert plain["messages"][1] == {"role": "assistant", "content": text}
    answered = normalize(_glm({"role": "user", "content": "q"}, {"role": "assistant", "content": "lookup\n{\"a\": 1}"},
                              {"role": "observation", "content": "ok"}, {"role": "assistant", "content": "done"}))
    assert answered["messages"][1]["tool_calls"][0]["function"]["name"] == "lookup"


def test_metadata_with_json_arguments_multiturn_loss_and_think():
    record = {"tools": [WEATHER], "conversations": [
        {"role": "user", "content": "北京呢？"},
        {"role": "assistant", "metadata": "weather", "content": '{"city": "北京"}'},
        {"role": "observation", "content": {"temp": 20}},
        {"role": "assistant", "content": "<think>看结果</think>北京 20 度。", "loss": False},
        {"role": "user", "content": "上海和广州？"},
        {"role": "tool", "name": "weather", "parameters": {"city": "上海"}, "observation": {"temp": 25}, "loss": True},
        {"role": "tool", "name": "weather", "parameters": {"city": "广州"}, "observation": "30"},
        {"role": "assistant", "content": "上海 25 度，广州 30 度。"},
    ]}
    assert glm4.detect(record)
    row = normalize(record)
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "user", "assistant", "tool",
                                             "assistant", "tool", "assistant"]
    assert messages[2]["content"] == '{"temp": 20}'
    assert messages[3] == {"role": "assistant", "content": "北京 20 度。", "reasoning_content": "看结果"}
    assert messages[5]["tool_calls"][0]["function"]["arguments"] == {"city": "上海"}
    assert messages[6] == {"role": "tool", "content": '{"temp": 25}',
                           "tool_call_id": messages[5]["tool_calls"][0]["id"], "name": "weather"}
    assert messages[7]["tool_calls"][0]["function"]["arguments"] == {"city": "广州"}
    assert row["meta"] == {"variant": "chatglm3", "loss_weights": {"3": 0.0, "5": 1.0}, "format": "glm4"}


def test_json_list_content_is_parallel_and_openai_tool_calls_pass_through():
    record = _glm(
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": json.dumps([{"name": "weather", "arguments": {"city": "A"}},
                                                     {"name": "weather", "arguments": {"city": "B"}}])},
        {"role": "observation", "content": "a"}, {"role": "observation", "content": "b"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "x1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "C"}'}}]},
        {"role": "tool", "tool_call_id": "x1", "content": "c"},
        {"role": "assistant", "content": "done"})
    messages = normalize(record)["messages"]
    assert [len(m.get("tool_calls", [])) for m in messages] == [0, 2, 0, 0, 1, 0, 0]
    assert [m["tool_call_id"] for m in messages[2:4]] == [c["id"] for c in messages[1]["tool_calls"]]
    assert messages[5]["tool_call_id"] == "x1"


def test_parse_tool_call_code_literals_only():
    assert parse_tool_call_code("tool_call(a=1, b='x', c=[1, {'k': None}], d=-2.5)") == {
        "a": 1, "b": "x", "c": [1, {"k": None}], "d": -2.5}
    with pytest.raises(InvalidRecord, match="not a literal"):
        parse_tool_call_code("tool_call(path=__import__('os').getcwd())")
    with pytest.raises(InvalidRecord, match="keyword arguments only"):
        parse_tool_call_code("tool_call(1, 2)")


def test_detection_leaves_plain_openai_records_alone():
    openai = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "1", "content": "r"}], "tools": [WEATHER]}
    assert not glm4.detect(openai)


def test_detector_claims_only_glm4_records():
    assert_detector_claims_only_its_records(glm4)


@pytest.mark.parametrize("label, record", [(label, record) for label, record, expected in detection_corpus()
                                           if expected == "glm4"])
def test_pipeline_detects_glm4_records(label, record):
    assert detect_format(record) == "glm4", label


def test_bundled_examples():
    rows = [normalize(record, "glm4") for record in read_records(EXAMPLES / "glm4.jsonl")]
    assert len(rows) >= 3 and all(not row["warnings"] for row in rows)
    assert {row["meta"]["variant"] for row in rows} == {"glm4", "chatglm3"}
    assert any("深圳" in m["content"] for row in rows for m in row["messages"])


# -- errors ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("record, message", [
    (_glm({"role": "user", "content": "q"}, {"role": "observation", "content": "r"}), "answers no preceding tool call"),
    (_glm({"role": "user", "content": "q"}, {"role": "assistant", "content": "```python\ntool_call(a=1)\n```"}),
     "without 'metadata'"),
    (_glm({"role": "user", "content": "q"}, {"role": "assistant", "metadata": "weather",
                                             "content": "```python\ntool_call(city=get())\n```"}), "not a literal"),
    (_glm({"role": "user", "content": "q"}, {"role": "assistant", "metadata": "weather", "content": "city is Paris"}),
     "neither JSON nor a Python literal"),
    (_glm({"role": "user", "content": "q"}, {"role": "critic", "content": "x"}), "unsupported role 'critic'"),
    (_glm({"role": "user", "content": "q"}, {"role": "assistant", "metadata": "interpreter",
                                             "content": "```python\nprint(1)\n```"}), "code-interpreter turns"),
    (_glm({"role": "user", "content": "q"}, {"role": "tool", "parameters": {}, "observation": "r"}),
     r"messages\[2\]: .*no function name"),
    (_glm({"role": "user", "content": "q"}, tools=[{"type": "function", "function": {"description": "no name"}}]),
     "function has no name"),
    ({"messages": []}, "no non-empty 'messages'"),
    ({"messages": ["hi"]}, r"messages\[0\] is not an object"),
])
def test_malformed_records_are_rejected_with_a_reason(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "glm4")
