"""ReAct text conversations: ms_agent (real record), Qwen's ReAct prompt doc, ToolLLaMA, Chinese keywords, edge cases.

Also holds the cross-format check for all four text-encoded formats (hermes, react, ms_swift, qwen): over every
record in the shared sources and every bundled example, each detector claims only records of its own format.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SHARED, shared_path

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, get_format

EXAMPLES_DIR = REPO_ROOT / "dataset_scripts" / "examples"
MY_FORMATS = ("hermes", "react", "ms_swift", "qwen")
# shared folders whose records are (also) claimed by one of my formats, and by which detector
MY_FOLDERS = {"hermes_function_calling": {"hermes"}, "ms_swift_agent": {"ms_swift", "react"},
              "qwen_function_calling": {"qwen", "react"}}


def conv(*turns: tuple[str, str], system: str | None = None) -> dict:
    pairs = ([("system", system)] if system else []) + list(turns)
    return {"conversations": [{"from": f, "value": v} for f, v in pairs]}


def roles(row: dict) -> list[str]:
    return [m["role"] for m in row["messages"]]


# -- real records ---------------------------------------------------------------------------------------------------
def test_ms_agent_record_splits_inline_observations():
    path = shared_path("sources", "ms_swift_agent", "doc_examples", "ms_agent_record_MS_Agent_Bench_126374.json")
    rec = json.loads(path.read_text(encoding="utf-8"))
    assert detect_format(rec) == "react"
    row = normalize(rec)
    # the system prompt is the ms_agent ReAct prompt (tool list + format) only: removed, kept in meta
    assert roles(row) == ["user", "assistant", "tool", "assistant"] * 3
    (removed,) = row["meta"]["removed_instructions"]
    assert removed["dropped"] and removed["spans"][0]["formats"] == ["react"]
    assert removed["spans"][0]["text"] == rec["conversations"][0]["value"]
    assert [t["function"]["name"] for t in row["tools"]] == [
        "hm_recipe_recommend", "hm_product_marketing", "hm_product_info", "hm_product_recommend"]
    info = row["tools"][2]["function"]["parameters"]
    assert info["required"] == ["sku_code_list", "sku_name_list", "property_list"]
    assert info["properties"]["sku_name_list"] == {"type": "string", "description": "盒马商品的名称列表"}
    calls = [m["tool_calls"][0] for m in row["messages"] if "tool_calls" in m]
    assert [c["function"]["name"] for c in calls] == ["hm_product_recommend", "hm_product_recommend", "hm_product_info"]
    assert calls[1]["function"]["arguments"] == {"keywords_dict": {"商品类目": "手机", "适用场景": "拍照"}}
    assert calls[2]["function"]["arguments"]["property_list"] == [["拍照性能"]]
    tools = [m for m in row["messages"] if m["role"] == "tool"]
    assert [t["tool_call_id"] for t in tools] == [c["id"] for c in calls]
    assert tools[0]["content"].startswith("[{'sku_code': '10518244314', 'product_name': '小米11 Ultra 5G手机 256GB'")
    final = row["messages"][3]
    assert final["reasoning_content"] == "I now know the final answer"
    assert final["content"].startswith("您好，我们有以下几款手机供您选择：1.小米11 Ultra 5G手机 256GB")
    assert "Observation" not in final["content"] and "Action" not in row["messages"][1]["content"]
    assert row["meta"]["inline_observations"] == 3 and row["meta"]["upstream_id"] == "MS_Agent_Bench_126374"
    # parameter types are unknown in the prompt (string); the object arguments are reported, not altered
    assert any("expected string, got object" in w for w in row["warnings"])


def _qwen_doc_blocks() -> list[str]:
    path = shared_path("sources", "qwen_function_calling", "doc_examples", "qwen_examples_react_prompt.md")
    text = path.read_text(encoding="utf-8")
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    return [body for lang, body in blocks if not lang]


def test_qwen_react_prompt_doc_conversation():
    prompt, output, result, prompt_with_observation, final = _qwen_doc_blocks()[:5]
    assert prompt_with_observation.startswith(prompt.rstrip("\n"))  # the doc's own consistency
    separate = {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": output},
                             {"role": "function", "name": "image_gen", "content": result},
                             {"role": "assistant", "content": final}]}
    inline = {"messages": [{"role": "user", "content": prompt},
                           {"role": "assistant", "content": output + "Observation: " + result + final}]}
    for rec in (separate, inline):
        assert detect_format(rec) == "react"
        row = normalize(rec)
        assert roles(row) == ["user", "assistant", "tool", "assistant"]
        assert [t["function"]["name"] for t in row["tools"]] == ["quark_search", "image_gen"]
        assert row["tools"][1]["function"]["description"].startswith("通义万相是一个AI绘画（图像生成）服务")
        assert row["tools"][0]["function"]["parameters"] == {
            "type": "object", "properties": {"search_query": {"type": "string", "description": "搜索关键词或短语"}},
            "required": ["search_query"]}
        assert row["meta"]["tools_from"] == "user_prompt"
        call = row["messages"][1]
        assert call["content"] == "我应该使用通义万相API来生成一张五彩斑斓的黑的图片。"
        assert call["tool_calls"][0]["function"] == {"name": "image_gen", "arguments": {"query": "五彩斑斓的黑"}}
        assert json.loads(row["messages"][2]["content"])["output"]["task_status"] == "SUCCEEDED"
        assert row["messages"][3]["reasoning_content"] == "我已经成功使用通义万相API生成了一张五彩斑斓的黑的图片。"
        assert row["messages"][3]["content"].startswith("我已经成功使用通义万相API生成了一张五彩斑斓的黑的图片https://")
        assert row["warnings"] == []


# -- hand-written records ---------------------------------------------------------------------------------------------
def test_examples_file():
    rows = [normalize(json.loads(line)) for line in (EXAMPLES_DIR / "react.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 3 and all(r["meta"]["format"] == "react" and r["warnings"] == [] for r in rows)
    toolllama = rows[0]
    # ToolBench's AutoGPT prompt and the "Begin!" of the user turn are removed; the query stays
    assert roles(toolllama) == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert toolllama["messages"][0]["content"] == ("I loved reading Dune. Can you find the book in the Open Library and "
                                                   "list a few other works by its author?")
    assert toolllama["messages"][-1]["tool_calls"][0]["function"]["name"] == "Finish"
    assert toolllama["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"q": "dune", "limit": 1}
    assert "optional" not in json.dumps(toolllama["tools"])
    parallel = rows[1]["messages"][1]["tool_calls"]
    assert [c["function"]["arguments"]["location"] for c in parallel] == ["杭州市", "苏州市"]
    assert [m.get("tool_call_id") for m in rows[1]["messages"][2:4]] == [c["id"] for c in parallel]
    chinese_keywords = rows[3]
    assert roles(chinese_keywords) == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert chinese_keywords["messages"][4]["content"] == "Bienvenue à Hangzhou"
    assert chinese_keywords["messages"][5]["reasoning_content"] == "我现在知道最后的答案"
    assert all(r["meta"]["format_instructions"] == ["removed"] for r in rows)


def test_toolllama_api_dump_and_function_turns():
    system = ("You are AutoGPT.\nSpecifically, you have access to the following APIs: "
              "[{'name': 'lookup_for_db', 'description': 'Look up', 'parameters': {'type': 'object', 'properties': "
              "{'key': {'type': 'string', 'example_value': 'a'}}, 'required': ['key'], 'optional': []}}]")
    rec = conv(("user", "find a"), ("assistant", "\nThought: look it up\nAction: lookup_for_db\nAction Input: {\n  \"key\": \"a\"\n}"),
               ("function", '{"error": "", "response": "found"}'), system=system)
    rec["id"] = "Step 2: find a"
    row = normalize(rec, "react")
    assert row["tools"][0]["function"]["parameters"]["required"] == ["key"]
    assert row["messages"][0] == {"role": "system", "content": "You are AutoGPT."}  # the API dump went to tools
    assert row["messages"][2]["content"] == "look it up"
    assert row["messages"][3]["content"] == '{"error": "", "response": "found"}'
    assert row["meta"]["upstream_id"] == "Step 2: find a"


def test_inline_keywords_on_one_line_and_placeholder_observation():
    rec = {"messages": [
        {"role": "user", "content": "book a ticket"},
        {"role": "assistant", "content": 'Thought: I need the booking API Action: book Action Input: {"to": "Paris"} Observation:'},
        {"role": "tool", "content": "Observation: {'response': 'ok'}"},
        {"role": "assistant", "content": "Final Answer: booked."}]}
    row = normalize(rec, "react")
    assert row["messages"][1]["content"] == "I need the booking API"
    assert row["messages"][1]["tool_calls"][0]["function"] == {"name": "book", "arguments": {"to": "Paris"}}
    assert row["messages"][2]["content"] == "{'response': 'ok'}"
    assert row["messages"][3]["content"] == "booked." and "reasoning_content" not in row["messages"][3]
    assert row["warnings"] == ["messages[1].tool_calls[0] book: calls a tool that is not declared"]


def test_final_answer_ends_parsing_and_observation_in_user_turn():
    rec = conv(("user", "slogan?"), ("assistant", "Action: brainstorm\nAction Input: {\"topic\": \"shoes\"}"),
               ("user", "Observation: run fast"),
               ("assistant", "Thought: done\nFinal Answer: Call to Action: Run fast.\nAction: buy now!"))
    row = normalize(rec, "react", license="Apache-2.0", language="en")
    assert roles(row) == ["user", "assistant", "tool", "assistant"]
    assert row["messages"][2]["content"] == "run fast"
    assert row["messages"][3]["content"] == "Call to Action: Run fast.\nAction: buy now!"
    assert row["meta"]["license"] == "Apache-2.0" and row["meta"]["language"] == "en"


def test_chinese_full_width_keywords_and_think_block():
    rec = conv(("user", "查一下上海"), ("assistant", ("<think>先查天气</think>思考：调用天气工具\n行动：weather\n行动输入：{\"city\": \"上海\"}\n"
                                                  "观察：晴\n最终答案：上海今天晴。")))
    row = normalize(rec, "react")
    assert roles(row) == ["user", "assistant", "tool", "assistant"]
    assert row["messages"][1]["reasoning_content"] == "先查天气" and row["messages"][1]["content"] == "调用天气工具"
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "上海"}
    assert row["messages"][3]["content"] == "上海今天晴。"


def test_input_repairs_fence_trailing_text_and_single_parameter():
    system = 'search: Search the web. Parameters: [{"name": "query", "description": "q", "required": true}]'
    rec = conv(("user", "x"),
               ("assistant", ("Action: search\nAction Input: ```json\n{\"query\": \"a\"}\n```\nObservation: r1\n"
                             "Action: search\nAction Input: {\"query\": \"b\"} (to narrow it down)\nObservation: r2\n"
                             "Action: search\nAction Input: 北京 天气\nObservation: r3\nFinal Answer: done")), system=system)
    row = normalize(rec, "react")
    calls = [m["tool_calls"][0]["function"]["arguments"] for m in row["messages"] if "tool_calls" in m]
    assert calls == [{"query": "a"}, {"query": "b"}, {"query": "北京 天气"}]
    assert row["meta"]["repairs"] == ["search: trailing_text_dropped", "search: plain_input_to_query"]


def test_thoughts_as_reasoning_option_and_empty_input():
    rec = conv(("user", "now?"), ("assistant", ("Thought: check the clock\nAction: clock\nAction Input: \nObservation: 9:00\n"
                                             "Thought: got it\nFinal Answer: 9 o'clock")))
    row = normalize(rec, "react", react_thoughts="reasoning")
    turn = row["messages"][1]
    assert turn["content"] == "" and turn["reasoning_content"] == "check the clock"
    assert turn["tool_calls"][0]["function"]["arguments"] == {}
    assert row["meta"]["repairs"] == ["clock: empty_string"]


def test_json_tool_objects_in_prompt_become_tools():
    system = ("Answer the following questions as best you can. You have access to the following tools:\n\n"
              "{'name': 'get_current_weather', 'description': 'Get weather', 'parameters': {'type': 'object', "
              "'properties': {'location': {'type': 'string'}}, 'required': ['location']}}\n\nUse the following format:")
    rec = conv(("user", "SF?"), ("assistant", ("Action: get_current_weather\nAction Input: {\"location\": \"SF\"}\nObservation: fog"
                                            "\nFinal Answer: foggy")), system=system)
    row = normalize(rec, "react")
    assert [t["function"]["name"] for t in row["tools"]] == ["get_current_weather"] and row["warnings"] == []


@pytest.mark.parametrize("entry, description, properties", [
    (('weather: 调用此工具与 天气查询 API 进行交互。天气查询 有什么用？查询城市天气 输入参数：{"type": "object", "properties": '
     '{"city": {"type": "string"}}, "required": ["city"]} 此工具的输入应为JSON对象。'), "查询城市天气", {"city": {"type": "string"}}),
    (('weather: Invoke this tool to interact with Weather API.What is Weather used for? Get weather Input parameters: '
     '[{"name": "city", "type": "str", "required": true}] Format the arguments as a JSON object.'), "Get weather",
     {"city": {"type": "string"}}),
    ("### 天气\n\nweather: 查天气 Parameters: [{\"name\": \"days\", \"schema\": {\"type\": \"integer\"}}]", "查天气",
     {"days": {"type": "integer"}}),
    ("2. weather: Call this tool to interact with the weather API. This API reports weather. Parameters: []",
     "This API reports weather.", {}),
])
def test_prompt_tool_entry_variants(entry, description, properties):
    rec = conv(("user", "q"), ("assistant", "Action: weather\nAction Input: {}"), system=f"Tools:\n\n{entry}\n\nBegin!")
    (tool,) = normalize(rec, "react")["tools"]
    assert tool["function"]["name"] == "weather" and tool["function"]["description"] == description
    assert tool["function"]["parameters"]["properties"] == properties


@pytest.mark.parametrize("assistant, message", [
    ("Observation: orphan", "'Observation' without a preceding action"),
    ("Action Input: {}", "'Action Input' without a preceding action"),
    ("Action: a\nAction Input: {}\nFinal Answer: x", "final answer follows a tool call that has no observation"),
    ("Action: two\nlines\nAction Input: {}\nObservation: r", "action name spans several lines"),
    ("Action: a\nAction Input: not json at all\nObservation: r", "input of action 'a' is not a JSON object"),
    ("Action: a\nAction Input: {}\nObservation: r1\nObservation: r2", "answers no preceding tool call"),
])
def test_malformed_react_text_is_rejected(assistant, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(conv(("user", "q"), ("assistant", assistant)), "react")


def test_other_malformed_records():
    with pytest.raises(InvalidRecord, match="answers no preceding tool call"):
        normalize(conv(("user", "q"), ("function", "r"), ("assistant", "Action: a\nAction Input: {}")), "react")
    with pytest.raises(InvalidRecord, match="react_thoughts"):
        normalize(conv(("user", "q"), ("assistant", "Action: a\nAction Input: {}")), "react", react_thoughts="nowhere")
    with pytest.raises(InvalidRecord, match="has no 'from'/'role'"):
        normalize({"conversations": [{"value": "x"}]}, "react")
    with pytest.raises(InvalidRecord, match="API list"):
        normalize(conv(("user", "q"), ("assistant", "Action: a\nAction Input: {}"),
                       system="Specifically, you have access to the following APIs: [{'name': "), "react")


# -- detection across every known record --------------------------------------------------------------------------------
def _records(path: Path):
    text = path.read_text(encoding="utf-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
        for line in text.splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict):
                yield item
    if isinstance(value, dict):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))


@pytest.mark.parametrize("fmt", MY_FORMATS)
def test_detector_claims_only_its_own_records(fmt):
    module = get_format(fmt)
    claimed, foreign = 0, []
    if (SHARED / "sources").is_dir():
        for path in sorted((SHARED / "sources").rglob("*")):
            if not path.is_file() or path.suffix == ".md":
                continue
            folder = path.relative_to(SHARED / "sources").parts[0]
            for rec in _records(path):
                if module.detect(rec):
                    claimed += 1
                    if fmt not in MY_FOLDERS.get(folder, set()):
                        foreign.append(f"{folder}/{path.name}")
    for path in sorted(EXAMPLES_DIR.glob("*.jsonl")):
        for rec in _records(path):
            if path.stem == fmt:
                assert detect_format(rec) == fmt, f"{path.name} record detected as {detect_format(rec)}"
            elif module.detect(rec) and not (fmt == "react" and path.stem == "ms_swift"):  # ms_swift comes first
                foreign.append(path.name)
    assert foreign == []
    if (SHARED / "sources").is_dir() and fmt in ("hermes", "react", "ms_swift"):
        assert claimed > 0
