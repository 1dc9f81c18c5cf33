"""Reading model output: ``parse_tool_calls(text, template, strict=False)`` behaves like vLLM's and SGLang's tool
parsers on real outputs, and strict mode (the default) raises ToolCallParseError with a reason on the same outputs.

Two parts: a table of real-looking generated outputs per family (cut off by ``max_tokens`` mid-JSON, mid-tag and
after a complete call; a body that is not JSON; content and call with whitespace; Llama's ``<|python_tag|>`` after
text; stop tokens present or not), asserting both modes; and, for every shipped template (``list_templates()``), the
real generated text of a call turn cut at every token boundary of the template's tokenizer: lenient mode never
raises, keeps exactly the complete calls and never leaks markup into the content, and strict mode raises on every cut
inside a call's arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from test_openai_shapes import tokenizers_for
from toolcall_templates import list_templates, parse_tool_calls
from toolcall_templates.parsing import ToolCallParseError, parse_assistant
from toolcall_templates.templates import get_template, render
from toolcall_templates.tokenization.conversation_encoder import stop_token_kwargs

WEATHER = ("get_weather", {"city": "Paris"})
TIME = ("get_time", {"tz": "UTC"})


@dataclass(frozen=True)
class Raises:
    """Strict mode raises ToolCallParseError whose message contains ``reason``."""

    reason: str


def turn(content: str, *calls: tuple[str, dict], reasoning: str | None = None) -> tuple:
    return content, list(calls), reasoning


Q_WEATHER = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
L_WEATHER = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
F_WEATHER = '<function_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</function_call>'
R_WEATHER = 'Action: get_weather\nAction Input: {"city": "Paris"}\n'

# (template, generated text, lenient result, strict result or Raises)
CASES = [
    # ---- qwen (Hermes-style <tool_call> blocks)
    ("qwen2.5", 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par',
     turn("Let me check."), Raises("unterminated <tool_call>")),
    ("qwen2.5", Q_WEATHER + '\n<tool_call>\n{"name": "get_time", "argu',
     turn("", WEATHER), Raises("unterminated <tool_call>")),
    ("qwen2.5", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n',
     turn("", WEATHER), Raises("unterminated <tool_call>")),
    ("qwen2.5", 'Sure.\n<tool_call>\nget_weather(city="Paris")\n</tool_call><|im_end|>',
     turn("Sure."), Raises("not JSON")),
    ("qwen2.5", '<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>\n' + Q_WEATHER,
     turn("", WEATHER), Raises("no function name")),
    ("qwen2.5", "  Let me check.  \n\n" + Q_WEATHER + "<|im_end|>",
     turn("Let me check.", WEATHER), turn("  Let me check.  \n", WEATHER)),
    ("qwen2.5", "Done.</tool_call><|im_end|>", turn("Done."), Raises("without a matching")),
    ("qwen2.5", "Plain answer, no stop token", turn("Plain answer, no stop token"),
     turn("Plain answer, no stop token")),
    ("qwen3", "<think>\nThe user wants the weather.\n</think>\n\nLet me check.\n" + Q_WEATHER + "<|im_end|>",
     turn("Let me check.", WEATHER, reasoning="The user wants the weather."),
     turn("Let me check.", WEATHER, reasoning="The user wants the weather.")),
    ("qwen3", "<think>\nThe user wants the wea", turn("", reasoning="The user wants the wea"),
     turn("<think>\nThe user wants the wea")),
    # ---- llama3 (JSON calls, optionally after <|python_tag|>, "; "-separated)
    ("llama3.1", '{"name": "get_weather", "parameters": {"city": "Par', turn(""), Raises("not valid JSON")),
    ("llama3.1", L_WEATHER + '; {"name": "get_time", "param', turn("", WEATHER), Raises("not valid JSON")),
    ("llama3.1", L_WEATHER + "; ", turn("", WEATHER), Raises("ends the text")),
    ("llama3.1", 'Let me check.\n\n{"na', turn("Let me check."), Raises("not valid JSON")),
    ("llama3.1", "Let me check.<|python_tag|>" + L_WEATHER + "<|eom_id|>",
     turn("Let me check.", WEATHER), Raises("<|python_tag|> after text")),
    ("llama3.2", "  Let me check.  \n\n" + L_WEATHER + "<|eot_id|>",
     turn("Let me check.", WEATHER), turn("  Let me check.  ", WEATHER)),
    ("llama3.2", '{"name": "get_weather", "parameters": {city: "Paris"}}',
     turn('{"name": "get_weather", "parameters": {city: "Paris"}}'), Raises("not valid JSON")),
    ("llama3.2", '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}; ' + L_WEATHER,
     turn("", WEATHER, WEATHER), turn("", WEATHER, WEATHER)),
    # ---- glm4 (NAME\n{JSON} blocks separated by <|assistant|>)
    ("glm4", '\nLet me check.<|assistant|>get_weather\n{"city": "Par', turn("Let me check."),
     Raises("call to 'get_weather'")),
    ("glm4", 'get_weather\n{"city": "Paris"}<|assistant|>get_time\n{"tz": ', turn("", WEATHER),
     Raises("call to 'get_time'")),
    ("glm4", 'get_weather\n{"city": "Paris"}<|assistant|>get_ti', turn("", WEATHER), Raises("no newline")),
    ("glm4", "get_wea", turn(""), turn("get_wea")),
    ("glm4", "python\nprint(1 + 1)<|observation|>", turn("print(1 + 1)"), Raises("not a JSON object")),
    ("glm4", '\n  Let me check.  <|assistant|>get_weather\n{"city": "Paris"}<|observation|>',
     turn("Let me check.", WEATHER), turn("  Let me check.  ", WEATHER)),
    ("glm4", "\nJust text.<|user|>", turn("Just text."), turn("Just text.")),
    # ---- react (Action / Action Input / Observation)
    ("chatml-react-en", 'Let me check.\nAction: get_weather\nAction Input: {"city": "Par', turn("Let me check."),
     Raises("Action Input of 'get_weather'")),
    ("chatml-react-en", R_WEATHER + 'Action: get_time\nAction Input: {"tz": ', turn("", WEATHER),
     Raises("Action Input of 'get_time'")),
    ("chatml-react-en", R_WEATHER + "Observ", turn("", WEATHER), Raises("Action Input of 'get_weather'")),
    ("chatml-react-zh", "Let me check.\nAction: get_wea", turn("Let me check."), Raises("has no Action Input")),
    ("chatml-react-en", "Action: get_weather\nAction Input: the city of Paris\nObservation:", turn(""),
     Raises("not an object")),
    ("chatml-toolbench", "  Let me check.  \n" + R_WEATHER + "Observation:<|im_end|>",
     turn("Let me check.", WEATHER), turn("  Let me check.  ", WEATHER)),
    ("chatml-react-en", R_WEATHER + "Observation: 22°C, sunny\nThought: done", turn("", WEATHER),
     Raises("text continues after 'Observation:'")),
    # ---- function_call (<function_call>{...}</function_call>, tags are plain text)
    ("chatml-function-call", '<function_call>{"name": "get_weather", "arguments": {"city": "Par', turn(""),
     Raises("unterminated <function_call>")),
    ("chatml-function-call", "Let me check.\n" + F_WEATHER[:-5], turn("Let me check.", WEATHER),
     Raises("unterminated <function_call>")),
    ("chatml-function-call", "Let me check.\n<function_ca", turn("Let me check."), Raises("ends inside")),
    ("chatml-function-call", '<function_call>get_weather(city="Paris")</function_call>', turn(""),
     Raises("not JSON")),
    ("chatml-function-call", "  Let me check.  \n" + F_WEATHER + "<|im_end|>",
     turn("Let me check.", WEATHER), turn("  Let me check.  ", WEATHER)),
]


def summary(text: str, template: str, strict: bool) -> tuple:
    parsed = parse_assistant(text, template, strict=strict)
    calls = [(call["function"]["name"], call["function"]["arguments"]) for call in parsed["tool_calls"]]
    return parsed["content"], calls, parsed.get("reasoning_content")


@pytest.mark.parametrize(("template", "text", "lenient", "strict"), CASES,
                         ids=[f"{case[0]}-{index}" for index, case in enumerate(CASES)])
def test_generated_output_in_both_modes(template, text, lenient, strict):
    assert summary(text, template, strict=False) == lenient
    if isinstance(strict, Raises):
        with pytest.raises(ToolCallParseError, match=strict.reason.replace("|", r"\|")):
            parse_assistant(text, template)
    else:
        assert summary(text, template, strict=True) == strict


def test_parse_tool_calls_takes_the_mode():
    text = 'Let me check.\n' + Q_WEATHER + '\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "U'
    content, calls = parse_tool_calls(text, "qwen2.5", strict=False)
    assert content == "Let me check." and [c["function"]["name"] for c in calls] == ["get_weather"]
    assert calls[0]["id"] == "call_0" and calls[0]["type"] == "function"
    with pytest.raises(ToolCallParseError, match="unterminated"):
        parse_tool_calls(text, "qwen2.5")


# ------------------------------------------------ every template: real output cut at every token -----------------
CALLS = [("get_weather", {"city": "Paris-7a1"}), ("get_time", {"tz": "Asia/Tokyo-3c9"})]
TOOLS = [{"type": "function", "function": {"name": name, "description": f"The {name[4:]}.", "parameters": {
    "type": "object", "properties": {key: {"type": "string"} for key in arguments}, "required": list(arguments)}}}
    for name, arguments in CALLS]


def generated_call_turn(template: str, content: str) -> str:
    """What the model generates for an assistant turn that says ``content`` and makes both calls, through its stop
    token, rendered by the template itself."""
    message = {"role": "assistant", "content": content, "tool_calls": [
        {"id": f"c{index}", "type": "function", "function": {"name": name, "arguments": arguments}}
        for index, (name, arguments) in enumerate(CALLS)]}
    spec = get_template(template)
    text, spans = render(spec, [{"role": "user", "content": "Weather and time?"}, message], TOOLS,
                         **stop_token_kwargs(spec))
    return text[spans[-1][0]:spans[-1][1]]


@pytest.mark.parametrize("content", ["Let me check.", ""])
@pytest.mark.parametrize("template", list_templates())
def test_output_cut_at_every_token(template, content):
    label, tokenizer = tokenizers_for(template)[0]
    text = generated_call_turn(template, content)
    for strict in (True, False):
        assert summary(text, template, strict)[:2] == (content, CALLS), (template, strict, text)
    ids = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    for _, end in ids:
        cut = text[:end]
        parsed_content, calls, _ = summary(cut, template, strict=False)
        assert calls == CALLS[:len(calls)], (label, cut)
        assert content.startswith(parsed_content.strip()), f"{template} ({label}): markup in content: {cut!r}"
    for index, (_, arguments) in enumerate(CALLS):
        value = next(iter(arguments.values()))
        cut = text[:text.index(value) + len(value) // 2]
        assert summary(cut, template, strict=False)[1] == CALLS[:index], (template, cut)
        with pytest.raises(ToolCallParseError):
            parse_assistant(cut, template)
