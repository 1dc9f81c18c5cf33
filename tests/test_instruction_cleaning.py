"""Tool-format instructions are removed from prompts when the tools are declared, kept in meta, and restorable.

The prompt texts below are written from the published prompts of each format (NousResearch Hermes dataset card and
Hermes-Function-Calling ``sys_prompt.yml``, Qwen ``examples/react_prompt.md``, ms-swift agent templates, ToolBench
``ReAct_prompts.py``, Glaive v1/v2, mistral-finetune, LLaMA-Factory's default tool prompt, Meta's Llama 3.1 JSON tool
prompt); GLM-4's comes from the real tokenizer's own chat template.
"""

from __future__ import annotations

import json

import pytest
from conftest import load_tokenizer, read_records, shared_path

from toolcall_templates import normalize, restore_instructions
from toolcall_templates.sources import detect_format, get_format

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
LISTING = json.dumps(TOOLS[0])
AUTHOR_HEAD = "You are the concierge of Hotel Astoria. Today is 2024-05-01."
AUTHOR_TAIL = "Never quote room prices."

HERMES_DATASET = (
    "You are a function calling AI model. You are provided with function signatures within <tools> </tools> XML tags. "
    "You may call one or more functions to assist with the user query. Don't make assumptions about what values to "
    f"plug into functions.\n<tools>\n[{LISTING}]\n</tools>\nFor each function call return a json object with function "
    "name and arguments within <tool_call> </tool_call> tags with the following schema:\n<tool_call>\n"
    "{'arguments': <args-dict>, 'name': <function-name>}\n</tool_call>\n")
HERMES_MODEL_CARD = (
    "You are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. "
    "You may call one or more functions to assist with the user query. Don't make assumptions about what values to "
    f"plug into functions. Here are the available tools: <tools> {LISTING} </tools> Use the following pydantic model "
    "json schema for each tool call you will make: {'title': 'FunctionCall', 'type': 'object', 'properties': "
    "{'arguments': {'title': 'Arguments', 'type': 'object'}, 'name': {'title': 'Name', 'type': 'string'}}, "
    "'required': ['arguments', 'name']} For each function call return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n{'arguments': <args-dict>, 'name': "
    "<function-name>}\n</tool_call>")
GLM45_TOOLS = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function "
    f"signatures within <tools></tools> XML tags:\n<tools>\n{LISTING}\n</tools>\n\nFor each function call, output the "
    "function name and arguments within the following XML format:\n<tool_call>{function-name}\n<arg_key>{arg-key-1}"
    "</arg_key>\n<arg_value>{arg-value-1}</arg_value>\n...\n</tool_call>")
REACT_EN = (
    f"Answer the following questions as best you can. You have access to the following tools:\n\n{LISTING}\n\n"
    "Use the following format:\n\nQuestion: the input question you must answer\nThought: you should always think "
    "about what to do\nAction: the action to take, should be one of [get_weather]\nAction Input: the input to the "
    "action\nObservation: the result of the action\n... (this Thought/Action/Action Input/Observation can be repeated "
    "zero or more times)\nThought: I now know the final answer\nFinal Answer: the final answer to the original input "
    "question\n\nBegin!\n")
REACT_ZH = (
    f"尽可能地回答以下问题。你可以使用以下工具:\n\n{LISTING}\n\n请按照以下格式进行:\n\nQuestion: 需要你回答的输入问题\n"
    "Thought: 你应该总是思考该做什么\nAction: 需要使用的工具，应该是[get_weather]中的一个\nAction Input: 传入工具的内容\n"
    "Observation: 行动的结果\n... (这个Thought/Action/Action Input/Observation可以重复N次)\nThought: 我现在知道最后的答案\n"
    "Final Answer: 对原始输入问题的最终答案\n\n现在开始！\n")
QWEN_AGENT_EN = (
    "# Tools\n\n## You have access to the following tools:\n\n### Weather\n\nget_weather: Weather of a city Parameters: "
    '[{"name": "city", "type": "string", "required": true}] Format the arguments as a JSON object.\n\n'
    "## When you need to call a tool, please insert the following command in your reply, which can be called zero or "
    "multiple times according to your needs:\n\n✿FUNCTION✿: The tool to use, should be one of [get_weather]\n"
    "✿ARGS✿: The input of the tool\n✿RESULT✿: Tool results\n✿RETURN✿: Reply based on tool results. Images need to be "
    "rendered as ![](url)")
LLAMAFACTORY_DEFAULT = (
    "You have access to the following tools:\n> Tool Name: get_weather\nTool Description: Weather of a city\n"
    "Tool Args:\n  - city (string, required): \n\nUse the following format if using a tool:\n```\nAction: tool name "
    "(one of [get_weather])\nAction Input: the input to the tool, in a JSON format representing the kwargs "
    '(e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n')
LLAMA31_JSON = (
    "Given the following functions, please respond with a JSON for a function call with its proper arguments that "
    'best answers the given prompt.\n\nRespond in the format {"name": function name, "parameters": dictionary of '
    f"argument name and its value}}.Do not use variables.\n\n{json.dumps(TOOLS[0]['function'], indent=4)}\n\n")
MISTRAL_GLAIVE = ("You are a helpful assistant who has access to the following functions to help the user, you can use "
                  "the functions if needed")
PUBLISHED = {"hermes_dataset": HERMES_DATASET, "hermes_model_card": HERMES_MODEL_CARD, "glm45_tools": GLM45_TOOLS,
             "react_en": REACT_EN, "react_zh": REACT_ZH, "qwen_agent_en": QWEN_AGENT_EN,
             "llamafactory_default": LLAMAFACTORY_DEFAULT, "llama31_json": LLAMA31_JSON, "mistral_glaive": MISTRAL_GLAIVE}


def openai_record(system: str | None, user: str = "Weather in Paris?", tools=TOOLS) -> dict:
    """An OpenAI-shaped record as users have them: tools declared, content null on the call turn, JSON-text arguments."""
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages += [{"role": "user", "content": user},
                 {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {
                     "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                 {"role": "tool", "content": "sunny"}, {"role": "assistant", "content": "Sunny in Paris."}]
    return {"messages": messages, "tools": tools} if tools else {"messages": messages}


# -- published prompts ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_prompt_alone_is_removed_and_the_system_message_dropped(name):
    record = openai_record(PUBLISHED[name])
    row = normalize(record, "openai")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert row["meta"]["format_instructions"] == ["removed"] and row["warnings"] == []
    (entry,) = row["meta"]["removed_instructions"]
    assert entry["dropped"] and entry["spans"] == [{"position": 0, "text": PUBLISHED[name], "formats": entry["spans"][0]["formats"]}]
    kept = normalize(record, "openai", keep_format_instructions=True)
    assert kept["messages"][0] == {"role": "system", "content": PUBLISHED[name]}
    assert restore_instructions(row) == kept
    assert row["id"] != kept["id"]
    assert row["messages"][1]["tool_calls"] == kept["messages"][2]["tool_calls"]  # same synthesized call ids


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_author_text_around_a_published_prompt_stays(name):
    system = f"{AUTHOR_HEAD}\n\n{PUBLISHED[name].strip()}\n\n{AUTHOR_TAIL}"
    row = normalize(openai_record(system), "openai")
    assert row["messages"][0] == {"role": "system", "content": f"{AUTHOR_HEAD}\n\n{AUTHOR_TAIL}"}
    assert restore_instructions(row)["messages"][0]["content"] == system


def test_hermes_agent_prompt_keeps_its_date_and_behaviour_lines():
    system = ("You are a function calling AI agent with self-recursion.\nYou can call only one function at a time and "
              "analyse data you get from function response.\nYou are provided with function signatures within "
              "<tools></tools> XML tags.\nThe current date is: 2024-05-01.")
    row = normalize(openai_record(system))
    assert row["messages"][0]["content"] == ("You can call only one function at a time and analyse data you get from "
                                             "function response.\nThe current date is: 2024-05-01.")


def test_glm4_tool_section_rendered_by_the_official_template_is_removed():
    tokenizer = load_tokenizer("glm4")
    rendered = tokenizer.apply_chat_template([{"role": "system", "content": "", "tools": TOOLS},
                                              {"role": "user", "content": "hi"}], tokenize=False)
    section = rendered.split("<|system|>\n", 1)[1].split("<|", 1)[0]
    assert section.startswith("你是一个名为 ChatGLM 的人工智能助手") and "# 可用工具" in section
    record = {"messages": [{"role": "system", "content": f"{section}\n\n你是一名导游。", "tools": TOOLS},
                           {"role": "user", "content": "巴黎天气？"},
                           {"role": "assistant", "content": "get_weather\n{\"city\": \"巴黎\"}"},
                           {"role": "observation", "content": "晴"}, {"role": "assistant", "content": "巴黎晴。"}]}
    row = normalize(record, "glm4")
    assert row["messages"][0] == {"role": "system", "content": "你是一名导游。"}
    assert row["meta"]["removed_instructions"][0]["spans"][0]["formats"] == ["glm4"]


def test_qwen_react_prompt_in_the_user_turn_leaves_the_question():
    prompt = REACT_EN.replace("\n\nBegin!\n", "\n\nBegin!\n\nQuestion: ") + "现在给我画个五彩斑斓的黑。"
    record = {"messages": [{"role": "user", "content": prompt},
                           {"role": "assistant", "content": "Thought: 画图\nAction: get_weather\nAction Input: {\"city\": \"x\"}"},
                           {"role": "tool", "content": "ok"},
                           {"role": "assistant", "content": "Thought: I now know the final answer\nFinal Answer: 好"}]}
    assert detect_format(record) == "react"
    row = normalize(record)
    assert row["meta"]["tools_from"] == "user_prompt" and row["messages"][0]["content"] == "现在给我画个五彩斑斓的黑。"
    assert restore_instructions(row)["messages"][0]["content"] == prompt


def test_glaive_v1_preamble_is_removed_with_its_schemas():
    record = {"sample": ("SYSTEM: You are an helpful assistant who has access to the following functions to help the "
                         "user, you can use the functions if needed-\n" + json.dumps(TOOLS[0]["function"], indent=4)
                         + "\n\n\nUSER: Weather in Paris?\n\n\nASSISTANT: <functioncall> {\"name\": \"get_weather\", "
                         "\"arguments\": '{\"city\": \"Paris\"}'} <|endoftext|>\n\n\nFUNCTION RESPONSE: sunny\n\n\n"
                         "ASSISTANT: Sunny. <|endoftext|>")}
    row = normalize(record, "glaive")
    assert row["messages"][0]["role"] == "user" and row["meta"]["removed_instructions"][0]["spans"][0]["formats"] == ["glaive"]


# -- what is never removed ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("system", [
    "Use the tools when the user asks about the weather. Answer in French.",
    "Use the following format for your final reply:\nSummary: one line\nDetails: the rest",
    "You are a helpful assistant that answers in JSON. Here's the json schema you must adhere to:\n<schema>\n"
    "{'type': 'object'}\n</schema>\n",
    "Don't make assumptions about what values to use with functions. Ask for clarification if a request is ambiguous.",
    # the OpenAI cookbook's prompt shares a sentence with Hermes' block: on its own it is the author's instruction
    "Don't make assumptions about what values to plug into functions. Ask for clarification if a user request is "
    "ambiguous.",
    "Here are the available tools: the weather service and the map. You may call one or more functions to assist "
    "with the user query.",
])
def test_author_instructions_are_kept_verbatim(system):
    row = normalize(openai_record(system))
    assert row["messages"][0] == {"role": "system", "content": system}
    assert "format_instructions" not in row["meta"] and row["warnings"] == []


def test_unrecognized_instruction_is_kept_with_a_warning():
    system = "Wrap every call in <tool_call> tags, arguments as JSON."
    row = normalize(openai_record(system))
    assert row["messages"][0] == {"role": "system", "content": system}
    assert row["meta"]["format_instructions"] == ["kept_unrecognized"]
    assert len(row["warnings"]) == 1 and "not recognized" in row["warnings"][0] and "hermes" in row["warnings"][0]
    assert restore_instructions(row) == normalize(openai_record(system), keep_format_instructions=True)


def test_instructions_of_a_row_without_tools_are_kept():
    row = normalize(openai_record(HERMES_DATASET, tools=None))
    assert row["messages"][0]["content"] == HERMES_DATASET.strip() or row["messages"][0]["content"] == HERMES_DATASET
    assert row["meta"]["format_instructions"] == ["kept_no_tools"] and "declares no tools" in row["warnings"][0]


def test_rows_that_differ_only_in_their_instructions_are_duplicates(tmp_path):
    from toolcall_templates import SourceSpec, build_dataset

    path = tmp_path / "mixed.jsonl"
    records = [openai_record(HERMES_DATASET), openai_record(None), openai_record(REACT_EN), openai_record(AUTHOR_HEAD)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = build_dataset([SourceSpec("mixed", str(path), "openai")], tmp_path / "out", progress=False)
    (stats,) = result.report["sources"]
    assert (stats["rows_out"], stats["duplicates_removed"]) == (2, 2)  # only the author's prompt makes a new row
    assert stats["format_instructions"] == {"removed": 1}


def test_loss_weights_follow_a_dropped_system_message():
    record = {"tools": [TOOLS[0]["function"]], "conversations": [
        {"role": "system", "content": "Answer the following questions as best as you can. You have access to the "
                                      "following tools:", "loss": False},
        {"role": "user", "content": "Paris?", "loss": False},
        {"role": "assistant", "metadata": "get_weather", "content": "```python\ntool_call(city='Paris')\n```", "loss": True},
        {"role": "observation", "content": "sunny", "loss": False},
        {"role": "assistant", "content": "Sunny.", "loss": True}]}
    row = normalize(record, "glm4")
    kept = normalize(record, "glm4", keep_format_instructions=True)
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert row["meta"]["loss_weights"] == {"0": 0.0, "1": 1.0, "2": 0.0, "3": 1.0}
    assert kept["meta"]["loss_weights"] == {"0": 0.0, "1": 0.0, "2": 1.0, "3": 0.0, "4": 1.0}
    assert restore_instructions(row) == kept


# -- every real record ----------------------------------------------------------------------------------------------
REAL_FOLDERS = ("llamafactory_sharegpt_tools", "llamafactory_v1_typed_content", "glaive_v2_raw", "openai_chat_tools",
                "hermes_function_calling", "toolbench_dfs_answers", "mistral_function_calling", "glm4_chatglm3",
                "ms_swift_agent")
FOLDER_FORMAT = {"toolbench_dfs_answers": "toolbench", "mistral_function_calling": "openai", "glm4_chatglm3": "glm4"}


@pytest.mark.parametrize("folder", REAL_FOLDERS)
def test_restore_gives_back_the_verbatim_row_for_every_real_record(folder):
    checked = 0
    for path in sorted(p for p in shared_path("sources", folder).rglob("*") if p.suffix in (".json", ".jsonl")):
        for record in read_records(path):
            if not isinstance(record, dict) or path.name == "dataset_info.json":
                continue
            fmt = FOLDER_FORMAT.get(folder) or detect_format(record)
            if "keep_format_instructions" not in get_format(fmt).OPTIONS:
                continue
            try:
                row = normalize(record, fmt)
            except ValueError:
                continue  # rejected records are covered by the build tests
            assert restore_instructions(row) == normalize(record, fmt, keep_format_instructions=True), path.name
            checked += 1
    assert checked > 0


def test_hermes_rows_are_kept_by_tokenize_dataset_for_every_template_family():
    from datasets import Dataset

    from toolcall_templates import features, tokenize_dataset

    folder = shared_path("sources", "hermes_function_calling")
    rows = [normalize(json.loads(p.read_text(encoding="utf-8")), "hermes") for p in sorted(folder.glob("card_*.json"))]
    assert not any("<tool_call>" in m["content"] for row in rows for m in row["messages"] if m["role"] == "system")
    dataset = Dataset.from_list(rows, features=features())
    for family in ("qwen2.5", "qwen3", "glm4", "llama3.1", "llama3.2"):
        _, report = tokenize_dataset(dataset, load_tokenizer(family), family, return_report=True, desc=None)
        assert (report.rows_in, report.conversations_kept, dict(report.dropped)) == (4, 4, {}), family


# -- a build of every real source and bundled example -----------------------------------------------------------------
SYSTEM_TELLTALES = ("<tool_call>", "<tools>", "</tools>", "<tool_response>", "Action Input:", "Observation:",
                    "# 可用工具", "在调用上述函数时", "access to the following functions", "Use the following format",
                    "function calling AI model", "✿FUNCTION✿", "行动输入", "动作输入", "You are AutoGPT",
                    "You have access of the following tools", "Specifically, you have access to the following APIs",
                    "Answer the following questions as best")


def test_no_format_instructions_left_in_any_system_prompt_of_the_real_sources(tmp_path):
    from dataclasses import replace

    from test_shared_sources_build import FOLDERS

    from toolcall_templates import SourceSpec, build_dataset, load_unified
    from toolcall_templates.build.recipe import example_sources

    specs = [SourceSpec(folder, str(shared_path("sources", folder)), fmt) for folder, (fmt, _) in FOLDERS.items()]
    specs += [replace(spec, config=f"examples_{spec.config}") for spec in example_sources()]
    result = build_dataset(specs, tmp_path / "ds", progress=False)
    systems = [(row["source"], m["content"]) for row in load_unified(str(result.out_dir))
               for m in row["messages"] if m["role"] == "system"]
    offenders = [(source, t, text[:120]) for source, text in systems for t in SYSTEM_TELLTALES if t in text]
    assert systems and offenders == []
    counts = {s["config"]: s["format_instructions"] for s in result.report["sources"] if s["format_instructions"]}
    print("\nrows with format instructions removed / kept, per source:", json.dumps(counts, indent=1))
    assert counts["hermes_function_calling"] == {"removed": 2}
    assert counts["glaive_v2_raw"] == {"removed": 5} and counts["mistral_function_calling"] == {"removed": 1}
    assert counts["toolbench_dfs_answers"] == {"removed": 9} and counts["ms_swift_agent"] == {"removed": 1}
    assert not any("kept_unrecognized" in c for c in counts.values())


def test_rows_loaded_from_a_built_dataset_restore_to_the_verbatim_build(tmp_path):
    from toolcall_templates import SourceSpec, build_dataset, load_unified

    specs = {"clean": {}, "verbatim": {"keep_format_instructions": True}}
    loaded = {}
    for name, options in specs.items():
        for folder, fmt in (("hermes_function_calling", "hermes"), ("toolbench_dfs_answers", "toolbench")):
            spec = SourceSpec(folder, str(shared_path("sources", folder)), fmt, options=options)
            out = build_dataset([spec], tmp_path / name / folder, progress=False).out_dir
            loaded.setdefault(name, []).extend(load_unified(str(out)))
    verbatim = {row["meta"]["ref"]: row for row in loaded["verbatim"]}
    assert len(loaded["clean"]) == len(verbatim) == 13
    for row in loaded["clean"]:
        assert restore_instructions(row) == verbatim[row["meta"]["ref"]]
