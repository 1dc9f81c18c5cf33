"""Agent-style ChatML templates (chatml-react-en/-zh, chatml-toolbench, chatml-function-call) and their parsers.

Oracles: the ms-swift documentation's printed react_en encoding (docs/source_en/Instruction/Agent-support.md) and the
prompt strings of ms-swift's agent templates (swift/agent_template/react.py, toolbench.py, base.py), typed out below;
byte snapshots under tests/snapshots/agent/ (regenerate with UPDATE_SNAPSHOTS=1 after a deliberate change).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from conftest import SHARED, load_tokenizer, requires_shared
from jinja2.exceptions import TemplateError

from toolcall_templates.parsing import ToolCallParseError, parse_assistant, parse_tool_calls
from toolcall_templates.templates import get_template, render

REACT = ("chatml-react-en", "chatml-react-zh", "chatml-toolbench")
AGENT = (*REACT, "chatml-function-call")
SNAPSHOTS = Path(__file__).parent / "snapshots" / "agent"

AQI_TOOL = {"type": "function", "function": {
    "name": "realtime_aqi",
    "description": "Weather forecast. Get real-time air quality, including current air quality, PM2.5, and PM10 "
                   "information.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name, e.g., "
                                                                                              "Shanghai"}},
                   "required": ["city"]}}}
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def call(name, arguments, call_id="call_0"):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


AQI_CHAT = [
    {"role": "user", "content": "What is the weather like in Beijing and Shanghai today?"},
    {"role": "assistant", "content": "", "tool_calls": [call("realtime_aqi", {"city": "Beijing"}),
                                                        call("realtime_aqi", {"city": "Shanghai"}, "call_1")]},
    {"role": "tool", "tool_call_id": "call_0", "name": "realtime_aqi",
     "content": '{"city": "Beijing", "aqi": "10", "unit": "celsius"}'},
    {"role": "tool", "tool_call_id": "call_1", "name": "realtime_aqi",
     "content": '{"city": "Shanghai", "aqi": "72", "unit": "fahrenheit"}'},
    {"role": "assistant", "content": "According to the weather forecast tool, the air quality index (AQI) in Beijing "
                                     "is 10, which indicates good air quality; whereas in Shanghai, the AQI is 72, "
                                     "indicating mild pollution."},
]

# ms-swift Agent-support.md, "react_en ... encoding by qwen2_5": [INPUT_IDS] decoded (the final "\n" is ours: HF ChatML
# templates end every turn with "<|im_end|>\n"; ms-swift's training suffix is "<|im_end|>" alone).
MS_SWIFT_REACT_EN_DOC = (
    "<|im_start|>system\nAnswer the following questions as best you can. You have access to the following tools:\n\n"
    "realtime_aqi: Call this tool to interact with the realtime_aqi API. What is the realtime_aqi API useful for? "
    "Weather forecast. Get real-time air quality, including current air quality, PM2.5, and PM10 information. "
    'Parameters: {"type": "object", "properties": {"city": {"type": "string", "description": "City name, e.g., '
    'Shanghai"}}, "required": ["city"]} Format the arguments as a JSON object.\n\nUse the following format:\n\n'
    "Question: the input question you must answer\nThought: you should always think about what to do\n"
    "Action: the action to take, should be one of [realtime_aqi]\nAction Input: the input to the action\n"
    "Observation: the result of the action\n... (this Thought/Action/Action Input/Observation can be repeated zero "
    "or more times)\nThought: I now know the final answer\nFinal Answer: the final answer to the original input "
    "question\n\nBegin!\n<|im_end|>\n<|im_start|>user\nWhat is the weather like in Beijing and Shanghai today?"
    "<|im_end|>\n<|im_start|>assistant\nAction: realtime_aqi\nAction Input: {'city': 'Beijing'}\nAction: "
    "realtime_aqi\nAction Input: {'city': 'Shanghai'}\nObservation:"
    '{"city": "Beijing", "aqi": "10", "unit": "celsius"}\nObservation:{"city": "Shanghai", "aqi": "72", "unit": '
    '"fahrenheit"}\nAccording to the weather forecast tool, the air quality index (AQI) in Beijing is 10, which '
    "indicates good air quality; whereas in Shanghai, the AQI is 72, indicating mild pollution.<|im_end|>\n"
)
# The same page's [LABELS]: the trained text.
MS_SWIFT_REACT_EN_LABELS = [
    "Action: realtime_aqi\nAction Input: {'city': 'Beijing'}\nAction: realtime_aqi\nAction Input: {'city': "
    "'Shanghai'}\nObservation:",
    "According to the weather forecast tool, the air quality index (AQI) in Beijing is 10, which indicates good air "
    "quality; whereas in Shanghai, the AQI is 72, indicating mild pollution.<|im_end|>",
]
# ms-swift ReactZnAgentTemplate._format_tools / ToolBenchAgentTemplate._format_tools for WEATHER_TOOL.
WEATHER_PARAMS = '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}'
MS_SWIFT_REACT_ZH_SYSTEM = (
    "尽可能地回答以下问题。你可以使用以下工具:\n\nget_weather: 调用此工具与 get_weather API 进行交互。get_weather 有什么用？"
    f"Get the weather. 输入参数：{WEATHER_PARAMS} 此工具的输入应为JSON对象。\n\n请按照以下格式进行:\n\n"
    "Question: 需要你回答的输入问题\nThought: 你应该总是思考该做什么\nAction: 需要使用的工具，应该是[get_weather]中的一个\n"
    "Action Input: 传入工具的内容\nObservation: 行动的结果\n... (这个Thought/Action/Action Input/Observation可以重复N次)\n"
    "Thought: 我现在知道最后的答案\nFinal Answer: 对原始输入问题的最终答案\n\n现在开始！\n"
)
MS_SWIFT_TOOLBENCH_SYSTEM = (
    "You can use many tools(functions) to do the following task.\nFirst I will give you the task description, and "
    "your task start.\nAt each step, you need to give your thought to analyze the status now and what to do next, "
    "with a function call to actually execute your step. Your output should follow this format:\nThought:\nAction:\n"
    "Action Input:\n\nAfter the call, you will get the call result, and you are now in a new state.\nThen you will "
    "analyze your status now, then decide what to do next...\nAfter many (Thought-call) pairs, you finally perform "
    "the task, then you can give your final answer.\nRemember:\n1.the state change is irreversible, you can't go back "
    'to one of the former state, if you want to restart the task, say "I give up and restart".\n2.All the thought is '
    "short, at most in 5 sentence.\n3.You can do more then one try, so if your plan is to continuously try some "
    "conditions, you can do one of the conditions per try.\nLet's Begin!\nTask description: You should use functions "
    'to help handle the real time user queries. Remember:\n1.ALWAYS call "Finish" function at the end of the task. '
    "And the final answer should contain enough information to show to the user,If you can't handle the task, or you "
    "find that function calls always fail(the function is not valid now), use function "
    "Finish->give_up_and_restart.\n2.Do not use origin tool names, use only subfunctions' names.\nSpecifically, you "
    'have access to the following APIs: [{"name": "get_weather", "description": "Get the weather.", "parameters": '
    f"{WEATHER_PARAMS}}}]"
)

LOOP_CHAT = [
    {"role": "system", "content": "You are a travel agent."},
    {"role": "user", "content": "Weather in Paris and 北京?"},
    {"role": "assistant", "content": "Let me look both up.",
     "tool_calls": [call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "北京"}, "call_1")]},
    {"role": "tool", "tool_call_id": "call_0", "content": "sunny, 18 °C"},
    {"role": "tool", "tool_call_id": "call_1", "content": "rain\n"},
    {"role": "assistant", "content": "Paris is sunny; 北京 has rain.", "reasoning_content": "I have both results."},
    {"role": "user", "content": "And Rome?"},
    {"role": "assistant", "content": None, "reasoning_content": "Rome next.",
     "tool_calls": [call("get_weather", {"city": "Rome", "days": [1, 2], "exact": True, "note": None})]},
    {"role": "tool", "tool_call_id": "call_0", "content": "[cloudy]"},
    {"role": "assistant", "content": "Rome is cloudy."},
]


def _snapshot(name: str, case: str, text: str, spans: list[tuple[int, int]]) -> None:
    marked, position = [], 0
    for start, end in spans:
        marked += [text[position:start], "⟦", text[start:end], "⟧"]
        position = end
    marked.append(text[position:])
    actual = "".join(marked)
    path = SNAPSHOTS / f"{name}__{case}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing snapshot {path}; create it with UPDATE_SNAPSHOTS=1"
    assert actual == path.read_text(encoding="utf-8")


def _generated_parts(text: str, spans) -> list[str]:
    return [text[a:b] for a, b in spans]


# -- ms-swift parity -------------------------------------------------------------------------------------------------

def test_react_en_reproduces_the_ms_swift_documentation_encoding():
    text, spans = render("chatml-react-en", AQI_CHAT, [AQI_TOOL])
    assert text == MS_SWIFT_REACT_EN_DOC
    assert _generated_parts(text, spans) == MS_SWIFT_REACT_EN_LABELS


@pytest.mark.parametrize("name, system", [("chatml-react-zh", MS_SWIFT_REACT_ZH_SYSTEM),
                                          ("chatml-toolbench", MS_SWIFT_TOOLBENCH_SYSTEM)])
def test_system_prompt_is_the_ms_swift_text(name, system):
    messages = [{"role": "system", "content": "replaced, as in ms-swift"}, {"role": "user", "content": "hi"}]
    text, _ = render(name, messages, [WEATHER_TOOL])
    assert text == f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"


def test_react_tool_description_fields_follow_ms_swift():
    tools = [{"name_for_model": "quark", "name_for_human": "夸克搜索", "description_for_model": "搜索引擎",
              "parameters": '[{"name": "q", "required": true}]'},
             {"name": "bare", "description": None, "description_for_model": "from description_for_model"}]
    text, _ = render("chatml-react-en", [{"role": "user", "content": "q"}], tools)
    assert ("quark: Call this tool to interact with the 夸克搜索 API. What is the 夸克搜索 API useful for? 搜索引擎 "
            'Parameters: [{"name": "q", "required": true}] Format the arguments as a JSON object.') in text
    assert "What is the bare API useful for? from description_for_model Parameters: {} Format" in text
    assert "should be one of [quark,bare]" in text


def test_keep_system_puts_the_system_text_before_the_tool_prompt():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    dropped, _ = render("chatml-react-en", messages, [WEATHER_TOOL])
    kept, _ = render("chatml-react-en", messages, [WEATHER_TOOL], keep_system=True)
    assert "Be brief." not in dropped
    assert kept.startswith("<|im_start|>system\nBe brief.\n\nAnswer the following questions")


@pytest.mark.parametrize("name", AGENT)
def test_without_tools_it_is_plain_chatml(name):
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
                {"role": "assistant", "content": "A"}]
    for tools in (None, []):
        text, spans = render(name, messages, tools)
        assert text == ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
                        "<|im_start|>assistant\nA<|im_end|>\n")
        assert _generated_parts(text, spans) == ["A<|im_end|>"]


# -- generation markers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REACT)
def test_react_generation_spans_cover_model_text_only(name):
    text, spans = render(name, LOOP_CHAT, [WEATHER_TOOL])
    assert _generated_parts(text, spans) == [
        "Let me look both up.\nAction: get_weather\nAction Input: {'city': 'Paris'}\nAction: get_weather\n"
        "Action Input: {'city': '北京'}\nObservation:",
        "Thought: I have both results.\nFinal Answer: Paris is sunny; 北京 has rain.<|im_end|>",
        "Thought: Rome next.\nAction: get_weather\nAction Input: {'city': 'Rome', 'days': [1, 2], 'exact': True, "
        "'note': None}\nObservation:",
        "Rome is cloudy.<|im_end|>",
    ]
    inline = "Observation:sunny, 18 °C\nObservation:rain\nThought: I have both results."
    assert inline in text
    for result in ("sunny, 18 °C", "rain\n", "[cloudy]"):
        start = text.index(result)
        assert not any(a < start + len(result) and start < b for a, b in spans)
    assert text.count("<|im_start|>assistant\n") == 2


def test_function_call_generation_spans_cover_model_text_only():
    text, spans = render("chatml-function-call", LOOP_CHAT, [WEATHER_TOOL])
    assert _generated_parts(text, spans) == [
        'Let me look both up.\n<function_call>{"name": "get_weather", "arguments": {"city": "Paris"}}'
        '</function_call>\n<function_call>{"name": "get_weather", "arguments": {"city": "北京"}}</function_call>'
        "<|im_end|>",
        "<think>\nI have both results.\n</think>\n\nParis is sunny; 北京 has rain.<|im_end|>",
        '<think>\nRome next.\n</think>\n\n<function_call>{"name": "get_weather", "arguments": {"city": "Rome", '
        '"days": [1, 2], "exact": true, "note": null}}</function_call><|im_end|>',
        "Rome is cloudy.<|im_end|>",
    ]
    assert "<|im_start|>function\nsunny, 18 °C<|im_end|>\n<|im_start|>function\nrain\n<|im_end|>\n" in text


@pytest.mark.parametrize("name", REACT)
def test_react_unanswered_calls_end_the_turn_like_ms_swift(name):
    """The text ends the turn as ms-swift's training encoding does, but only what the model generates is trained:
    it stops at the stop string ``Observation:`` and never writes the ``<|im_end|>`` after it."""
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [
        call("get_weather", {"city": "Oslo"})]}]
    text, spans = render(name, messages, [WEATHER_TOOL])
    assert text.endswith("<|im_start|>assistant\nAction: get_weather\nAction Input: {'city': 'Oslo'}\n"
                         "Observation:<|im_end|>\n")
    assert text[spans[-1][0]:spans[-1][1]] == "Action: get_weather\nAction Input: {'city': 'Oslo'}\nObservation:"
    answered = messages[:1] + [{"role": "assistant", "content": "Observation:"}]
    text, spans = render(name, answered, [WEATHER_TOOL])
    assert text.endswith("Observation:<|im_end|>\n") and text[spans[-1][0]:spans[-1][1]] == "Observation:"


@pytest.mark.parametrize("name", REACT)
def test_react_generation_prompt_after_a_tool_result_continues_the_turn(name):
    prompt, _ = render(name, LOOP_CHAT[:5], [WEATHER_TOOL], add_generation_prompt=True)
    assert prompt.endswith("Observation:sunny, 18 °C\nObservation:rain\n")
    closed, _ = render(name, LOOP_CHAT[:5], [WEATHER_TOOL])
    assert closed.endswith("Observation:rain\n<|im_end|>\n")


@pytest.mark.parametrize("name", AGENT)
def test_generation_prompt_renders_are_prefixes_of_the_conversation(name):
    full, spans = render(name, LOOP_CHAT, [WEATHER_TOOL])
    starts = iter(a for a, _ in spans)
    for k, message in enumerate(LOOP_CHAT):
        if message["role"] == "assistant":
            prompt, _ = render(name, LOOP_CHAT[:k], [WEATHER_TOOL], add_generation_prompt=True)
            assert full.startswith(prompt)
            assert len(prompt) == next(starts), "the generated text starts right after the generation prompt"


def test_observation_separator_gives_qwens_react_spacing():
    text, spans = render("chatml-react-en", AQI_CHAT, [AQI_TOOL], observation_separator=" ")
    assert 'Observation: {"city": "Beijing"' in text and 'Observation: {"city": "Shanghai"' in text
    assert _generated_parts(text, spans) == MS_SWIFT_REACT_EN_LABELS


# -- input shapes and safety -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", AGENT)
def test_null_content_and_string_encodings_render_like_the_canonical_form(name):
    canonical = [{"role": "user", "content": "q"},
                 {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "Oslo"})]},
                 {"role": "tool", "content": "ok"}]
    raw = [{"role": "user", "content": "q"},
           {"role": "assistant", "content": None, "tool_calls": [call("get_weather", '{"city": "Oslo"}')]},
           {"role": "tool", "content": "ok"}]
    string_tool = {"type": "function", "function": {**WEATHER_TOOL["function"],
                                                    "parameters": json.dumps(WEATHER_TOOL["function"]["parameters"])}}
    want, want_spans = render(name, canonical, [WEATHER_TOOL])
    got, got_spans = render(name, raw, [string_tool])
    if name == "chatml-function-call":
        assert (got, got_spans) == (want, want_spans)
    else:  # ReAct prints mapping arguments with Python repr (as ms-swift does) and JSON strings verbatim
        assert got == want.replace("{'city': 'Oslo'}", '{"city": "Oslo"}')
    assert parse_tool_calls(got[got_spans[0][0]:got_spans[0][1]], name)[1][0]["function"]["arguments"] == {
        "city": "Oslo"}


@pytest.mark.parametrize("name", AGENT)
def test_template_syntax_in_data_renders_literally(name):
    evil = "{{ 7*7 }} {% raw %}x{% endraw %} {# c #} {%- if true %}"
    tool = {"type": "function", "function": {"name": "t", "description": evil, "parameters": {
        "type": "object", "properties": {"q": {"type": "string", "description": evil}}}}}
    messages = [{"role": "system", "content": evil}, {"role": "user", "content": evil},
                {"role": "assistant", "content": evil, "tool_calls": [call("t", {"q": evil})]},
                {"role": "tool", "content": evil}, {"role": "assistant", "content": evil}]
    text, spans = render(name, messages, [tool], keep_system=True)
    assert "49" not in text
    assert text.count(evil) >= 4
    turn = parse_assistant(text[spans[0][0]:spans[0][1]], name)
    assert turn["content"] == evil and turn["tool_calls"][0]["function"]["arguments"] == {"q": evil}


@pytest.mark.parametrize("name", AGENT)
def test_unknown_roles_fail_with_a_reason(name):
    with pytest.raises(TemplateError, match="unsupported message role: critic"):
        render(name, [{"role": "user", "content": "x"}, {"role": "critic", "content": "y"}], None)


@pytest.mark.parametrize("name", REACT)
def test_react_needs_an_assistant_turn_before_a_tool_result(name):
    with pytest.raises(TemplateError, match="tool message must follow an assistant turn"):
        render(name, [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}], None)


@pytest.mark.parametrize("name", AGENT)
def test_tools_and_calls_without_a_name_are_rejected(name):
    with pytest.raises(TemplateError, match="every tool needs a function name"):
        render(name, [{"role": "user", "content": "x"}], [{"type": "function", "function": {"description": "d"}}])
    nameless = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"arguments": {}}}]}]
    with pytest.raises(TemplateError, match="a tool call has no function name"):
        render(name, nameless, None)


# -- parsing ---------------------------------------------------------------------------------------------------------

def _as_turn(message: dict) -> dict:
    turn = {"content": message.get("content") or "",
            "tool_calls": [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls", [])]}
    if message.get("reasoning_content"):
        turn["reasoning_content"] = message["reasoning_content"]
    return turn


def _parsed(text: str, name: str) -> dict:
    parsed = parse_assistant(text, name)
    turn = {"content": parsed["content"],
            "tool_calls": [(c["function"]["name"], c["function"]["arguments"]) for c in parsed["tool_calls"]]}
    if "reasoning_content" in parsed:
        turn["reasoning_content"] = parsed["reasoning_content"]
    return turn


@pytest.mark.parametrize("name", AGENT)
def test_parse_inverts_render_for_every_assistant_turn(name):
    text, spans = render(name, LOOP_CHAT, [WEATHER_TOOL])
    turns = [m for m in LOOP_CHAT if m["role"] == "assistant"]
    assert [_parsed(text[a:b], name) for a, b in spans] == [_as_turn(m) for m in turns]
    calls = parse_assistant(text[spans[0][0]:spans[0][1]], name)["tool_calls"]
    assert [c["id"] for c in calls] == ["call_0", "call_1"] and all(c["type"] == "function" for c in calls)


@pytest.mark.parametrize("name", REACT)
def test_react_parser_reads_model_output(name):
    generated = ("Thought: I should search.\nAction: quark_search\nAction Input: {\"search_query\": \"五彩斑斓的黑\"}\n"
                 "Observation:")
    content, calls = parse_tool_calls(generated, name)
    assert content == "" and calls[0]["function"] == {"name": "quark_search",
                                                      "arguments": {"search_query": "五彩斑斓的黑"}}
    turn = parse_assistant("Thought: I should search.\nAction: s\nAction Input: {'q': 1}", name)
    assert turn["reasoning_content"] == "I should search."
    assert turn["tool_calls"][0]["function"]["arguments"] == {"q": 1}
    toolllama = parse_assistant("\nThought: look it up\nAction: get_x_for_y\nAction Input: {\n  \"a\": 1\n}", name)
    assert toolllama["reasoning_content"] == "look it up"
    assert toolllama["tool_calls"][0]["function"] == {"name": "get_x_for_y", "arguments": {"a": 1}}
    final = parse_assistant("Thought: done\nFinal Answer: 42<|im_end|>", name)
    assert final == {"content": "42", "tool_calls": [], "reasoning_content": "done"}
    assert parse_assistant("Just text.\n<|im_end|>", name) == {"content": "Just text.\n", "tool_calls": []}


@pytest.mark.parametrize("text, reason", [
    ("Action: f\nObservation:", "no Action Input"),
    ("Action Input: {}", "without a preceding Action"),
    ("Action: \nAction Input: {}", "without a tool name"),
    ("Action: f\nAction Input: {'a': \nObservation:", "not an object"),
    ("Action: f\nAction Input: Paris", "not an object"),
    ("Action: f\nAction Input: [1, 2]", "not an object"),
    ("Action: f\nAction Input: {}\nObservation: result\nFinal Answer: x", "continues after"),
    ("Action: f\nchatter\nAction Input: {}", "between"),
])
def test_react_parser_rejects_malformed_actions(text, reason):
    with pytest.raises(ToolCallParseError, match=reason):
        parse_assistant(text, "chatml-react-en")


def test_function_call_parser_reads_model_output():
    turn = parse_assistant('Sure.\n<function_call>{"name": "f", "parameters": "{\\"a\\": 1}"}</function_call>\n'
                           '<function_call>{"name": "g", "arguments": {}}</function_call>\nDone.<|im_end|>',
                           "chatml-function-call")
    assert turn["content"] == "Sure.\nDone."
    assert [c["function"] for c in turn["tool_calls"]] == [{"name": "f", "arguments": {"a": 1}},
                                                           {"name": "g", "arguments": {}}]
    thought = parse_assistant("<think>hmm</think>\nok", "chatml-function-call")
    assert thought == {"content": "ok", "tool_calls": [], "reasoning_content": "hmm"}


@pytest.mark.parametrize("text, reason", [
    ('<function_call>{"name": "f", "arguments": {}}', "unterminated"),
    ("<function_call>{not json}</function_call>", "not JSON"),
    ('<function_call>["f"]</function_call>', "must be a JSON object"),
    ('<function_call>{"arguments": {}}</function_call>', "no function name"),
    ('<function_call>{"name": "f", "arguments": 3}</function_call>', "arguments of 'f'"),
    ('text</function_call>', "without a matching"),
])
def test_function_call_parser_rejects_malformed_calls(text, reason):
    with pytest.raises(ToolCallParseError, match=reason):
        parse_assistant(text, "chatml-function-call")


@pytest.mark.parametrize("name", AGENT)
def test_parsers_never_crash_on_arbitrary_text(name):
    rng = random.Random(7)
    alphabet = ["Action:", "Action Input:", "Observation:", "Thought:", "Final Answer:", "<function_call>",
                "</function_call>", "<think>", "</think>", "{", "}", "[", '"', "'", ":", "\n", " ", "a", "名",
                "<|im_end|>", "null", "1"]
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        try:
            turn = parse_assistant(text, name)
        except ToolCallParseError:
            continue
        assert isinstance(turn["content"], str) and isinstance(turn["tool_calls"], list)
    with pytest.raises(ToolCallParseError):
        parse_assistant(None, name)  # type: ignore[arg-type]


# -- sidecar facts, tokenizer, snapshots, shared data ----------------------------------------------------------------

@pytest.mark.parametrize("name, family, alias", [("chatml-react-en", "react", "react_en"),
                                                 ("chatml-react-zh", "react", "react_zh"),
                                                 ("chatml-toolbench", "react", "toolbench"),
                                                 ("chatml-function-call", "function_call", "function_call")])
def test_sidecar_facts(name, family, alias):
    spec = get_template(alias)
    assert (spec.name, spec.family) == (name, family)
    assert set(spec.required_tokens) == {"<|im_start|>", "<|im_end|>"}
    assert "<|im_end|>" in spec.stop_tokens and (family != "react" or "Observation:" in spec.stop_tokens)
    assert spec.description


@pytest.mark.parametrize("name", AGENT)
def test_token_masks_on_the_real_qwen_tokenizer(name):
    tokenizer = load_tokenizer("qwen2.5")
    text, spans = render(name, LOOP_CHAT, [WEATHER_TOOL], observation_separator=" ")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    trained = [(s, e) for s, e in encoded["offset_mapping"] if any(s < b and e > a for a, b in spans)]
    assert all(any(a <= s and e <= b for a, b in spans) for s, e in trained), "a trained token leaks outside a span"
    covered = {k for s, e in trained for k in range(s, e)}
    assert covered == {k for a, b in spans for k in range(a, b)}, "every generated character is in a trained token"
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in [encoded["input_ids"][k] for k, (s, e) in
                                                            enumerate(encoded["offset_mapping"]) if (s, e) in trained]


CASES = {
    "tool_loop": (LOOP_CHAT, [WEATHER_TOOL], {}),
    "ms_swift_doc": (AQI_CHAT, [AQI_TOOL], {}),
    "keep_system_prompt": (LOOP_CHAT[:5], [WEATHER_TOOL, AQI_TOOL], {"keep_system": True,
                                                                     "add_generation_prompt": True}),
    "no_tools": (LOOP_CHAT[:2] + [{"role": "assistant", "content": "Hello!"}], None, {}),
}


@pytest.mark.parametrize("name", AGENT)
@pytest.mark.parametrize("case", sorted(CASES))
def test_byte_snapshots(name, case):
    messages, tools, kwargs = CASES[case]
    text, spans = render(name, messages, tools, **kwargs)
    _snapshot(name, case, text, spans)


@requires_shared
@pytest.mark.parametrize("name", AGENT)
def test_parse_inverts_render_on_shared_conversations(name):
    from toolcall_templates.normalize import normalize

    files = [SHARED / "sources" / "ms_swift_agent" / "doc_examples" / f for f in (
        "ms_agent_record_MS_Agent_Bench_126374.json", "ms_swift_Agent-support_tool_call_tool_response.jsonl")]
    files += sorted((SHARED / "sources" / "llamafactory_sharegpt_tools").glob("glaive_toolcall_*_demo.json"))
    records = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        records += json.loads(text) if path.suffix == ".json" and text.lstrip().startswith("[") else (
            [json.loads(text)] if path.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line])
    checked = 0
    for record in records[:200]:
        try:
            row = normalize(record)
        except ValueError:
            continue
        text, spans = render(name, row["messages"], row["tools"] or None)
        turns = [m for m in row["messages"] if m["role"] == "assistant"]
        assert len(spans) == len(turns)
        for message, (a, b) in zip(turns, spans):
            want = _as_turn(message)
            if want["tool_calls"]:
                want["content"] = want["content"].rstrip("\n")
            assert _parsed(text[a:b], name) == want
            checked += 1
    assert checked >= 100
