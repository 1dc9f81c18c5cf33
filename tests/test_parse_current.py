"""Parsers of the current-generation formats: ``glm45`` (GLM-4.5 ``<arg_key>``/``<arg_value>``), ``qwen_xml``
(Qwen3.5+ ``<function=...>``/``<parameter=...>``), ``llamafactory`` (``Action:``/``Action Input:``), and ``qwen`` for
Qwen3-Instruct-2507.

Round trips: every assistant turn of every shared conversation is rendered as the model generates it (a turn after
the last user message of its conversation prefix, so that reasoning is rendered) and parsed back, through the public
``parse_assistant(text, template, tools=...)``. XML and GLM formats write argument values as bare text, typed back by
the declared schema: a turn is compared when every argument's declared type (a JSON Schema type) holds its value;
other turns (undeclared arguments, untyped or mis-typed values) cannot carry their types through the text and are
counted. Then tables of model output for both modes: strict raises with the reason, lenient reads it as vLLM does.
"""

from __future__ import annotations

from typing import Any

import pytest

from test_parse_tool_calls import expected_turn
from test_template_parity import shared_rows, tools_of
from test_templates_current import CURRENT
from toolcall_templates.parsing import ToolCallParseError, parse_assistant, parse_tool_calls
from toolcall_templates.templates import get_template, render_plain
from toolcall_templates.validation import schema_errors

TEMPLATES = [*sorted(CURRENT), "chatml-llamafactory"]
TEXT_VALUED = ("glm45", "qwen_xml")
JSON_SCHEMA_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}


def _split_think(content: str) -> tuple[str, str]:
    """The official templates' split of a ``</think>`` in content into (reasoning, content)."""
    return (content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n"),
            content.split("</think>")[-1].lstrip("\n"))


def expected(template: str, message: dict) -> dict:
    """What the template's generated text carries of an assistant message (never ids)."""
    family = get_template(template).family
    content, reasoning = message.get("content") or "", message.get("reasoning_content")
    if family in TEXT_VALUED:
        if family == "qwen_xml":
            content = content.strip()
        if not isinstance(reasoning, str):
            reasoning = None
            if template != "qwen3.8" and "</think>" in content:
                reasoning, content = _split_think(content)
        content, reasoning = content.strip() if family == "glm45" else content, (reasoning or "").strip()
    elif template == "chatml-llamafactory" and isinstance(reasoning, str) and reasoning:
        reasoning = reasoning.strip("\n")
    else:
        return {**expected_turn("qwen2.5", message), "tool_calls": _calls(message)}
    return {"content": content, "tool_calls": _calls(message), "reasoning_content": reasoning or None}


def _calls(message: dict) -> list[tuple[str, Any]]:
    return [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []]


def parsed(text: str, template: str, tools: list | None, strict: bool = True) -> dict:
    turn = parse_assistant(text, template, strict, tools=tools)
    return {"content": turn["content"], "tool_calls": [(c["function"]["name"], c["function"]["arguments"])
                                                       for c in turn["tool_calls"]],
            "reasoning_content": turn.get("reasoning_content")}


def schema_typed(message: dict, tools: list | None) -> bool:
    """Every argument of every call is declared with a JSON Schema type that holds its value (integers as ints)."""
    declared = {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools or []}
    for call in message.get("tool_calls") or []:
        properties = declared.get(call["function"]["name"], {}).get("properties") or {}
        for key, value in call["function"]["arguments"].items():
            schema = properties.get(key)
            kind = schema.get("type") if isinstance(schema, dict) else None
            kinds = kind if isinstance(kind, list) else [kind]
            if not kinds or not set(kinds) <= JSON_SCHEMA_TYPES or schema_errors(value, schema, key):
                return False
            if kinds[0] == "integer" and type(value) is not int:
                return False
    return True


def generated_turns(template: str):
    """``(message, generated text, tools)`` for every assistant turn of the shared conversations. Each conversation
    is rendered up to each user message (and whole), so every assistant turn is rendered after the last user
    message of its prefix, as at inference; its generation block is the text it generated."""
    spec = get_template(template)
    kwargs = {spec.stop_token_kwarg: True} if spec.stop_token_kwarg else {}
    for row in shared_rows():
        messages, tools = row["messages"], tools_of(row)
        ends = [i for i, m in enumerate(messages) if m["role"] == "user" and i] + [len(messages)]
        start = 0
        for end in ends:
            turns = [i for i in range(start, end) if messages[i]["role"] == "assistant"]
            start = end
            if not turns:
                continue
            try:
                text, spans = render_plain(template, messages[:end], tools, **kwargs)
            except Exception:  # noqa: BLE001 - a conversation the template refuses is not a round trip
                continue
            spans = spans[-len(turns):]
            for index, (first, last) in zip(turns, spans):
                yield messages[index], text[first:last], tools


@pytest.mark.parametrize("template", TEMPLATES)
def test_round_trip_of_every_shared_assistant_turn(template, capsys):
    typed_family = get_template(template).family in TEXT_VALUED
    total, untyped, failures = 0, 0, []
    for message, text, tools in generated_turns(template):
        total += 1
        if typed_family and not schema_typed(message, tools):
            untyped += 1
            continue
        if parsed(text, template, tools) != expected(template, message):
            failures.append(text)
    compared = total - untyped
    with capsys.disabled():
        print(f"\n[round trip] {template}: {compared - len(failures)}/{compared} assistant turns"
              + (f" ({untyped} more whose argument types the declared schema does not give)" if untyped else ""),
              end="")
    assert total > 3000 and compared > 3000 and not failures, failures[:3]


@pytest.mark.parametrize("template", ["glm4.5", "qwen3.5", "qwen3.6", "qwen3.8"])
def test_lenient_reading_of_complete_turns_equals_strict(template):
    """Model output that is complete and well-formed reads the same in both modes (a sample of the round trips)."""
    for count, (message, text, tools) in enumerate(generated_turns(template)):
        if count % 9:
            continue
        strict = parsed(text, template, tools)
        lenient = parsed(text, template, tools, strict=False)
        assert lenient["tool_calls"] == strict["tool_calls"]
        assert lenient["content"] == strict["content"].strip()


# ---------------------------------------------------------------- typed values ------------------------------------
TOOLS = [{"type": "function", "function": {"name": "book", "description": "Book a table.", "parameters": {
    "type": "object", "properties": {
        "city": {"type": "string"}, "code": {"type": "string"}, "people": {"type": "integer"},
        "budget": {"type": "number"}, "terrace": {"type": "boolean"}, "dates": {"type": "array"},
        "notes": {"type": ["object", "null"]}}}}}]
VALUES = {"city": "Paris", "code": "007", "people": 4, "budget": 2.0, "terrace": False, "dates": ["5/1", "5/2"],
          "notes": None}
CALL_MESSAGES = [{"role": "user", "content": "Book it"}, {"role": "assistant", "content": "", "tool_calls": [
    {"type": "function", "function": {"name": "book", "arguments": VALUES}}]}]


@pytest.mark.parametrize("template", ["glm4.5", "qwen3.5", "qwen3.6", "qwen3.8"])
def test_values_are_typed_by_the_declared_schema(template):
    """``"007"`` declared string stays text, ``2.0`` stays a float, ``False`` / ``None`` come back whether written
    as JSON or (Qwen3.5) as Python's ``False`` / ``None``; without the tools the XML formats keep text (vLLM)."""
    text, spans = render_plain(template, CALL_MESSAGES, TOOLS)
    generated = text[spans[-1][0]:spans[-1][1]]
    assert parse_tool_calls(generated, template, tools=TOOLS)[1][0]["function"]["arguments"] == VALUES
    untyped = parse_tool_calls(generated, template)[1][0]["function"]["arguments"]
    if get_template(template).family == "qwen_xml":
        assert untyped["people"] == "4" and untyped["code"] == "007"
    else:  # vLLM's glm45 parser reads every value not declared a string as a literal, when it is one
        assert untyped["people"] == 4 and untyped["code"] == "007" and untyped["terrace"] is False


def test_tools_are_ignored_by_families_whose_calls_carry_json():
    text = '<tool_call>\n{"name": "book", "arguments": {"people": 4}}\n</tool_call><|im_end|>'
    assert parse_tool_calls(text, "qwen3-instruct-2507", tools=TOOLS) == parse_tool_calls(text, "qwen2.5")
    action = 'Action: book\nAction Input: {"people": 4}<|im_end|>'
    assert parse_tool_calls(action, "chatml-llamafactory", tools=TOOLS)[1][0]["function"]["arguments"] == {"people": 4}


# ---------------------------------------------------------------- model output tables -----------------------------
CALL_XML = "<tool_call>\n<function=book>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>"
CALL_GLM = "<tool_call>book\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>"
CALL_LF = 'Action: book\nAction Input: {"city": "Paris"}'
PARIS = [("book", {"city": "Paris"})]
# (family template, text, strict outcome: (content, calls) or the error's pattern, lenient (content, calls))
CASES = [
    ("qwen3.5", "Sure.\n\n" + CALL_XML + "<|im_end|>", ("Sure.", PARIS), ("Sure.", PARIS)),
    ("qwen3.5", "R\n</think>\n\n  Sure.  \n\n" + CALL_XML, ("  Sure.  ", PARIS), ("Sure.", PARIS)),
    ("qwen3.5", "Sure.\n\n" + CALL_XML + "\n<tool_call>\n<function=book>\n<parameter=city>\nRo",
     "unterminated <tool_call>", ("Sure.", PARIS)),
    ("qwen3.5", CALL_XML[:-len("</tool_call>")], "unterminated <tool_call>", ("", PARIS)),
    ("qwen3.5", "Sure. <tool_call>\n<function=book>\n<parameter=city>\nParis\n</function>\n</tool_call>",
     "unterminated <parameter", ("Sure.", PARIS)),
    ("qwen3.5", "<tool_call>\n{\"name\": \"book\"}\n</tool_call>", "without <function=", ("", [])),
    ("qwen3.5", "<function=book>\n<parameter=city>\nParis\n</parameter>\n</function>", ("<function=book>\n<parameter="
     "city>\nParis\n</parameter>\n</function>", []), ("", PARIS)),
    ("qwen3.5", "Plain answer.<|im_end|>", ("Plain answer.", []), ("Plain answer.", [])),
    ("qwen3.5", "Done.</tool_call>", "without a matching", ("Done.", [])),
    ("glm4.5", "\n<think>R</think>\nSure.\n" + CALL_GLM + "<|observation|>", ("Sure.", PARIS), ("Sure.", PARIS)),
    ("glm4.5", "\nSure.\n" + CALL_GLM + "\n<tool_call>book\n<arg_key>city</arg_key>\n<arg_val",
     "unterminated <tool_call>", ("Sure.", PARIS)),
    ("glm4.5", "\n<tool_call>book<arg_key>city</arg_key><arg_value>Paris</arg_value></tool_call>", ("", PARIS),
     ("", PARIS)),
    ("glm4.5", "\n<tool_call>\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>",
     "without a function name", ("", [])),
    ("glm4.5", "\n<tool_call>book\n<arg_key>city</arg_key>\n</tool_call>", "unpaired <arg_key>",
     ("", [("book", {})])),
    ("glm4.5", "\nJust text.<|user|>", ("Just text.", []), ("Just text.", [])),
    ("chatml-llamafactory", "Sure." + CALL_LF + "<|im_end|>", ("Sure.", PARIS), ("Sure.", PARIS)),
    ("chatml-llamafactory", "Sure." + CALL_LF + '\nAction: book\nAction Input: {"city": "Ro', "not JSON",
     ("Sure.", PARIS)),
    ("chatml-llamafactory", "Sure. " + CALL_LF + "\nAction: bo", "text after the actions", ("Sure.", PARIS)),
    ("chatml-llamafactory", "Action: book\nAction Input: [1, 2]", "not a JSON object",
     ("Action: book\nAction Input: [1, 2]", [])),
    ("chatml-llamafactory", "Plain Action: none needed.", ("Plain Action: none needed.", []),
     ("Plain Action: none needed.", [])),
    ("chatml-llamafactory", "Action Input: {}", "without an Action", ("Action Input: {}", [])),
]


@pytest.mark.parametrize(("template", "text", "strict", "lenient"), CASES)
def test_model_output_in_both_modes(template, text, strict, lenient):
    if isinstance(strict, str):
        with pytest.raises(ToolCallParseError, match=strict):
            parse_assistant(text, template)
    else:
        content, calls = parse_tool_calls(text, template, tools=TOOLS)
        assert (content, [(c["function"]["name"], c["function"]["arguments"]) for c in calls]) == strict
    content, calls = parse_tool_calls(text, template, strict=False, tools=TOOLS)
    assert (content, [(c["function"]["name"], c["function"]["arguments"]) for c in calls]) == lenient


@pytest.mark.parametrize("template", TEMPLATES)
def test_lenient_mode_never_raises_on_cut_off_output(template):
    """Every prefix of a generated turn (generation cut off anywhere) reads without an exception in lenient mode,
    and never yields a call that is not in the full turn."""
    text, spans = render_plain(template, [*CALL_MESSAGES[:1], {"role": "assistant", "content": "Let me book.",
                                                               "reasoning_content": "A table for four.",
                                                               "tool_calls": CALL_MESSAGES[1]["tool_calls"] * 2}],
                               TOOLS)
    generated = text[spans[-1][0]:spans[-1][1]]
    full = parse_assistant(generated, template, tools=TOOLS)["tool_calls"]
    for end in range(len(generated) + 1):
        calls = parse_assistant(generated[:end], template, strict=False, tools=TOOLS)["tool_calls"]
        assert [c["function"] for c in calls] == [c["function"] for c in full[:len(calls)]], generated[:end]
