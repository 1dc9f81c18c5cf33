"""LLaMA-Factory ShareGPT normalizer: real Glaive demo files, dataset_info options, tricky records, errors.

Also home of the detection corpus (every record of ../shared/sources and of the bundled examples, with the format
it belongs to) that the other source tests import.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import REPO_ROOT, SHARED, rows_and_errors, shared_path
from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import UnknownOption, detect_format, sharegpt
from toolcall_templates.sources.sharegpt import dataset_info_options

EXAMPLES = REPO_ROOT / "dataset_scripts" / "examples"
_FOLDER_FORMATS = {
    "llamafactory_sharegpt_tools": "sharegpt",
    "llamafactory_v1_typed_content": "llamafactory_v1",
    "glaive_v2_raw": "glaive",
    "glm4_chatglm3": "glm4",
}


# -- shared helpers (imported by the other test_source_* modules) ----------------------------------------------------
def read_records(path: Path) -> list:
    """Records of a JSON array / object / JSON-lines file; ``//`` comments are removed from ``.jsonc`` files."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonc":
        text = _strip_json_comments(text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return document if isinstance(document, list) else [document]


def _strip_json_comments(text: str) -> str:
    """Drop ``// ...`` comments outside strings, then trailing commas they leave before ``]``/``}``."""
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\":
                out.append(text[i + 1])
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        else:
            out.append(char)
        i += 1
    return re.sub(r",(\s*[\]}])", r"\1", "".join(out))


def _is_plain_chat(record: dict) -> bool:
    """A record with only system/user/assistant text and no tools: any chat format may claim it."""
    messages = record.get("messages")
    return (
        isinstance(messages, list)
        and "tools" not in record
        and all(isinstance(m, dict) and set(m) <= {"role", "content"}
                and m.get("role") in ("system", "user", "assistant") for m in messages)
    )


@lru_cache(maxsize=1)
def detection_corpus() -> tuple[tuple[str, dict, str | None], ...]:
    """``(label, record, expected format or None)`` for every record in ../shared/sources and the examples.

    The expected format is one of the four LLaMA-Factory/Glaive/GLM formats for their folders and example files,
    None otherwise (records of other formats, and plain chats that no tool format can tell apart).
    """
    files = []
    if (SHARED / "sources").is_dir():
        files += [p for p in sorted((SHARED / "sources").rglob("*")) if p.is_file()
                  and p.suffix in (".json", ".jsonl", ".jsonc", ".txt") and p.name != "dataset_info.json"]
    files += sorted(EXAMPLES.glob("*.jsonl"))
    corpus = []
    for path in files:
        try:
            records = read_records(path)
        except json.JSONDecodeError:
            continue  # a documentation file with placeholders, not records
        if path.parent == EXAMPLES:
            expected = path.stem if path.stem in _FOLDER_FORMATS.values() else None
        else:
            expected = _FOLDER_FORMATS.get(path.relative_to(SHARED / "sources").parts[0])
        for index, record in enumerate(records):
            if isinstance(record, dict):
                label = f"{path.name}#{index}"
                corpus.append((label, record, None if _is_plain_chat(record) else expected))
    return tuple(corpus)


def assert_detector_claims_only_its_records(module) -> None:
    corpus = detection_corpus()
    assert any(expected == module.FORMAT for _, _, expected in corpus), "no records of this format in the corpus"
    wrong = [(label, expected) for label, record, expected in corpus
             if module.detect(record) != (expected == module.FORMAT)]
    assert not wrong, f"{module.FORMAT}.detect is wrong on {wrong[:10]}"


# -- real records ------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _demo(language: str) -> list[dict]:
    return read_records(shared_path("sources", "llamafactory_sharegpt_tools", f"glaive_toolcall_{language}_demo.json"))


@lru_cache(maxsize=None)
def _demo_rows(language: str) -> tuple[list, list]:
    return rows_and_errors(_demo(language), "sharegpt")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_glaive_demo_files_normalize_without_rejects(language):
    rows, errors = _demo_rows(language)
    assert (len(rows), len(errors)) == (240, 0), errors[:3]
    assert all(detect_format(record) == "sharegpt" for record in _demo(language))
    turns = [turn["from"] for record in _demo(language) for turn in record["conversations"]]
    calls = sum(len(m.get("tool_calls", [])) for row in rows for m in row["messages"])
    results = sum(m["role"] == "tool" for row in rows for m in row["messages"])
    recovered = sum(row["meta"].get("recovered_calls", 0) for row in rows)
    # every function_call turn is one call, every observation one result; zh has 2 calls translated into text
    assert (turns.count("function_call"), turns.count("observation")) == {"en": (172, 172), "zh": (169, 171)}[language]
    assert (calls, results, recovered) == {"en": (172, 172, 0), "zh": (171, 171, 2)}[language]
    assert sum(row["tools"] is None for row in rows) == sum(r["tools"] == "[]" for r in _demo(language))
    assert sum(row["tools"] is None for row in rows) == {"en": 87, "zh": 84}[language]


def test_en_demo_sequential_calls_exactly():
    row = _demo_rows("en")[0][226]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"] * 3
    calls = [m["tool_calls"] for m in row["messages"] if "tool_calls" in m]
    assert [c[0]["function"]["arguments"] for c in calls] == [
        {"shape": "rectangle", "length": 5, "width": 3},
        {"shape": "circle", "radius": 4},
        {"shape": "triangle", "base": 6, "height": 2},
    ]
    assert all(m["content"] == "" for m in row["messages"] if "tool_calls" in m)
    results = [m for m in row["messages"] if m["role"] == "tool"]
    assert [r["tool_call_id"] for r in results] == [c[0]["id"] for c in calls]
    assert len({c[0]["id"] for c in calls}) == 3
    assert [r["content"] for r in results] == ['{"area": 15}', '{"area": 50.24}', '{"area": 6}']
    assert row["tools"][0]["function"]["name"] == "calculate_area"
    assert row["warnings"] == []


def test_zh_demo_keeps_chinese_byte_exact():
    record = _demo("zh")[0]
    row = _demo_rows("zh")[0][0]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert row["messages"][0]["content"] == record["conversations"][0]["value"]
    call = row["messages"][1]["tool_calls"][0]["function"]
    assert call["name"] == "generate_invoice"
    assert call["arguments"] == {"customer_name": "约翰·多伊", "items": [
        {"name": "苹果", "quantity": 2, "price": 1}, {"name": "香蕉", "quantity": 3, "price": 0.5}]}
    assert row["messages"][2]["content"] == record["conversations"][2]["value"]
    assert row["messages"][2]["tool_call_id"] == row["messages"][1]["tool_calls"][0]["id"]
    assert row["tools"][0]["function"]["description"] == "生成发票"


def test_zh_demo_translated_call_is_recovered_with_a_warning():
    row = _demo_rows("zh")[0][152]
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert messages[1]["content"] == "好的，让我帮你计算一下。"
    call = messages[1]["tool_calls"][0]
    assert call["function"] == {"name": "calculate_discount", "arguments": {"原价": 200, "折扣百分比": 20}}
    assert messages[2]["tool_call_id"] == call["id"] and messages[2]["content"] == '{"discounted_price": 160}'
    assert row["meta"]["recovered_calls"] == 1
    assert "recovered from assistant text" in row["warnings"][0]
    assert any("unexpected argument '原价'" in w for w in row["warnings"])
    with pytest.raises(InvalidRecord, match="strict mode"):
        normalize(_demo("zh")[152], "sharegpt", strict=True)


def test_translated_call_recovery_picks_the_tool_the_label_names():
    price = {"original_price": {"type": "number", "description": "原价"}}
    tools = [{"name": "calculate_discount", "description": "计算折扣价格",
              "parameters": {"type": "object", "properties": price}},
             {"name": "get_news", "description": "获取新闻", "parameters": {"type": "object", "properties": {}}}]
    record = _record(("human", "打八折多少钱？"), ("gpt", "好的。\nAI 计算折扣: {\"原价\": 200}\n请稍等。"),
                     ("observation", '{"price": 160}'), ("gpt", "160 元。"),
                     tools=json.dumps(tools, ensure_ascii=False))
    message = normalize(record)["messages"][1]
    assert message["content"] == "好的。\n请稍等。"
    assert message["tool_calls"][0]["function"] == {"name": "calculate_discount", "arguments": {"原价": 200}}
    unrelated = _record(("human", "q"), ("gpt", 'Result: {"x": 1}'), ("observation", "r"), ("gpt", "a"),
                        tools=json.dumps(tools))
    with pytest.raises(InvalidRecord, match="matches no single declared tool"):
        normalize(unrelated, "sharegpt")


# -- dataset_info.json -------------------------------------------------------------------------------------------------
def test_dataset_info_options_from_the_real_file():
    info = json.loads(shared_path("sources", "llamafactory_sharegpt_tools", "dataset_info.json").read_text())
    options = dataset_info_options(info, "glaive_toolcall_zh_demo")
    assert options == {"columns": {"messages": "conversations", "tools": "tools"}, "tags": {}}
    assert normalize(_demo("zh")[0], "sharegpt", **options) == _demo_rows("zh")[0][0]
    assert dataset_info_options(info, "open_thoughts")["tags"] == {
        "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
        "system_tag": "system"}
    with pytest.raises(ValueError, match="images"):
        dataset_info_options(info, "mllm_demo")
    with pytest.raises(ValueError, match="'alpaca'"):
        dataset_info_options(info, "alpaca_en_demo")
    with pytest.raises(ValueError, match="chosen, rejected"):
        dataset_info_options(info, "dpo_en_demo")
    with pytest.raises(ValueError, match="not defined"):
        dataset_info_options(info, "no_such_dataset")


def test_custom_columns_and_tags():
    record = {
        "dialog": [
            {"role": "sys", "text": "Be brief."},
            {"role": "me", "text": "Weather in Oslo?"},
            {"role": "call", "text": '{"name": "weather", "arguments": {"city": "Oslo"}}'},
            {"role": "result", "text": "-3 °C"},
            {"role": "bot", "text": "It is -3 °C in Oslo."},
        ],
        "prompt": "ignored because the system tag wins",
        "functions": '[{"name": "weather", "description": "w", "parameters": {"type": "object", "properties": {}}}]',
    }
    options = {"columns": {"messages": "dialog", "system": "prompt", "tools": "functions"},
               "tags": {"role_tag": "role", "content_tag": "text", "user_tag": "me", "assistant_tag": "bot",
                        "function_tag": "call", "observation_tag": "result", "system_tag": "sys"}}
    row = normalize(record, "sharegpt", **options)
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert row["messages"][0]["content"] == "Be brief."
    assert row["meta"]["notes"] == ["'prompt' column ignored: the conversation opens with a system turn"]
    assert row["messages"][3] == {"role": "tool", "content": "-3 °C", "name": "weather",
                                  "tool_call_id": row["messages"][2]["tool_calls"][0]["id"]}
    assert row["tools"][0]["function"]["name"] == "weather"


# -- hand-written edge cases ---------------------------------------------------------------------------------------
WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _record(*turns, **extra):
    return {"conversations": [{"from": f, "value": v} for f, v in turns], **extra}


def _parallel(observation_turns):
    calls = json.dumps([{"name": "get_weather", "arguments": {"city": "北京"}},
                        {"name": "get_weather", "arguments": '{"city": "上海"}'}], ensure_ascii=False)
    return _record(("human", "北京和上海天气？"), ("function_call", calls), *observation_turns, ("gpt", "都晴。"),
                   tools=json.dumps([{"type": "function", "function": WEATHER}]))


@pytest.mark.parametrize("observations", [
    [("observation", '[{"t": 30}, {"t": 28}]')],
    [("observation", '{"t": 30}\n</tool_response>\n<tool_response>\n{"t": 28}')],
    [("observation", '{"t": 30}'), ("observation", '{"t": 28}')],
], ids=["json-list", "llamafactory-joiner", "consecutive"])
def test_list_valued_function_call_is_one_parallel_turn(observations):
    row = normalize(_parallel(observations), "sharegpt")
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "assistant"]
    calls = messages[1]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [{"city": "北京"}, {"city": "上海"}]
    assert [m["tool_call_id"] for m in messages[2:4]] == [c["id"] for c in calls]
    assert [m["content"] for m in messages[2:4]] == ['{"t": 30}', '{"t": 28}']
    assert row["warnings"] == []


def test_system_column_reasoning_markers_and_encodings():
    record = _record(
        ("human", "Weather in Paris?"),
        ("function_call", json.dumps(json.dumps({"name": "get_weather", "arguments": "{'city': 'Paris'}"}))),
        ("observation", "Sunny"),
        ("gpt", "<think>\nIt is sunny.\n</think>\n\nSunny in Paris. <|endoftext|>"),
        system="You are terse.", tools=json.dumps([WEATHER]),
    )
    row = normalize(record, "sharegpt")
    assert row["messages"][0] == {"role": "system", "content": "You are terse."}
    assert row["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert row["meta"]["repairs"] == ["get_weather: literal_eval"]
    assert row["messages"][4] == {"role": "assistant", "content": "Sunny in Paris.",
                                  "reasoning_content": "It is sunny."}


def test_glaive_reexport_with_hyphenated_roles_and_tools_in_system_turn():
    schema = json.dumps(WEATHER, indent=2)
    record = {
        "system_message": "",
        "function_description": "",
        "conversations": [
            {"from": "system", "value": "You are a helpful assistant with access to the following functions. "
                                        "Use them if required -" + schema},
            {"from": "human", "value": "Weather at St. John's?"},
            {"from": "function-call", "value": '{"name": "get_weather", "arguments": \'{"city": "St. John\'s"}\'}'},
            {"from": "function-response", "value": '{"temp": 4}'},
            {"from": "gpt", "value": "4 degrees."},
        ],
    }
    assert sharegpt.detect(record)
    row = normalize(record)
    assert row["meta"]["format"] == "sharegpt"
    # the Glaive preamble is removed with the schemas it introduced (kept in meta["removed_instructions"])
    assert row["meta"]["removed_instructions"][0]["spans"][0]["text"] == (
        "You are a helpful assistant with access to the following functions. Use them if required")
    assert row["tools"][0]["function"]["name"] == "get_weather"
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "St. John's"}
    assert row["messages"][2]["role"] == "tool"


def test_function_description_column_supplies_tools():
    record = _record(("human", "Hi"), ("gpt", "Hello!"),
                     function_description=json.dumps(WEATHER, indent=4) + "\n\n" + json.dumps(WEATHER | {"name": "w2"}))
    row = normalize(record)
    assert [t["function"]["name"] for t in row["tools"]] == ["get_weather", "w2"]


def test_json_examples_in_a_system_prompt_are_not_taken_for_tools():
    system = 'Reply as JSON like {"name": "Ann", "age": 3}.'
    row = normalize(_record(("human", "q"), ("gpt", '{"name": "Bob", "age": 4}'), system=system, tools=""))
    assert row["tools"] is None and row["messages"][0] == {"role": "system", "content": system}


def test_empty_tools_and_plain_chat():
    row = normalize(_record(("system", "Sys"), ("human", "Hi"), ("gpt", "Hello"), tools="[]"))
    assert row["meta"]["format"] == "sharegpt" and row["tools"] is None
    assert row["messages"] == [{"role": "system", "content": "Sys"}, {"role": "user", "content": "Hi"},
                               {"role": "assistant", "content": "Hello"}]


def test_detection_does_not_take_other_sharegpt_shaped_formats():
    hermes = _record(("human", "q"), ("gpt", "<tool_call>\n{'name': 'f', 'arguments': {}}\n</tool_call>"),
                     tools="[]")
    toolace = {"system": "s", "conversations": [{"from": "user", "value": "q"},
                                                {"from": "assistant", "value": "[f(a=1)]"}]}
    plain = _record(("human", "q"), ("gpt", "a"))
    odd = {"conversations": [{"from": ["human"], "value": "q"}], "tools": "[]"}
    assert not any(sharegpt.detect(r) for r in (hermes, toolace, plain, odd))


def test_detector_claims_only_sharegpt_records():
    assert_detector_claims_only_its_records(sharegpt)


def test_bundled_examples():
    records = read_records(EXAMPLES / "sharegpt.jsonl")
    rows = [normalize(record) for record in records]
    assert len(rows) >= 3 and all(row["meta"]["format"] == "sharegpt" and not row["warnings"] for row in rows)
    assert any(len(m.get("tool_calls", [])) > 1 for row in rows for m in row["messages"])
    assert any("茅台" in m["content"] for row in rows for m in row["messages"])


# -- errors ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("record, message", [
    (_record(("human", "q"), ("bot", "a")), "unknown role 'bot'"),
    (_record(("human", "q"), ("function_call", "call get_weather please")), "neither JSON nor"),
    (_record(("human", "q"), ("function_call", "[]")), "empty list"),
    (_record(("human", "q"), ("function_call", '["get_weather"]')), "call #0 is not an object"),
    (_record(("human", "q"), ("function_call", '{"arguments": {}}')), r"conversations\[1\]: .*no function name"),
    (_record(("human", "q"), ("observation", "42"), ("gpt", "a")), "answers no preceding tool call"),
    (_record(("human", "q"), ("gpt", "Let me see."), ("observation", "42"), ("gpt", "a"), tools=json.dumps([WEATHER])),
     "holds no call payload"),
    (_record(("human", "q"), ("gpt", "a"), tools="{not json"), "tools is not valid JSON"),
    ({"conversations": []}, "no non-empty 'conversations'"),
    ({"conversations": ["hi"]}, r"conversations\[0\] is not a turn object with a string 'from'"),
    (_record(("gpt", "only an answer")), "no user turn"),
])
def test_malformed_records_are_rejected_with_a_reason(record, message):
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "sharegpt")


def test_bad_options_are_rejected():
    record = _record(("human", "q"), ("gpt", "a"))
    with pytest.raises(UnknownOption, match="'tags' must map names to strings"):
        normalize(record, "sharegpt", tags={"role_tag": 3})
    with pytest.raises(TypeError, match=r"does not take the option\(s\) 'tagz'; it takes columns, tags"):
        normalize(record, "sharegpt", tagz={"role_tag": "speaker"})
    with pytest.raises(ValueError, match="unknown key\\(s\\) 'role_tagz'; known: role_tag, content_tag"):
        normalize(record, "sharegpt", tags={"role_tagz": "speaker"})
    with pytest.raises(UnknownOption, match="'columns' has unknown key\\(s\\) 'message'"):
        normalize(record, "sharegpt", columns={"message": "dialog"})
