"""The scores of ``toolcall eval`` turn by turn, reading real template output, and the accounting of rows and turns."""

from __future__ import annotations

import json

import pytest

from toolcall_templates.evaluation import eval_template, group_scores, score_turn, select_turns
from toolcall_templates.templates import render

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["C", "F"]},
                                                    "days": {"type": "integer"}},
                   "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Time in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TOOLS = [WEATHER, TIME]


def call(name, **arguments):
    return {"id": "call_x", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_parallel_calls_match_in_any_order_and_arguments_as_json_values():
    reference = [call("get_weather", city="Paris", days=3, unit="C"), call("get_time", city="Oslo")]
    generated = [call("get_time", city="Oslo"), call("get_weather", unit="C", days=3.0, city="Paris")]
    score = score_turn(reference, generated, TOOLS, stopped=True)
    assert score.calls_expected and score.name_match and score.exact_match
    assert (score.calls, score.valid_calls, score.errors) == (2, 2, [])


@pytest.mark.parametrize("reference, generated, name_match", [
    ([call("get_weather", city="Paris")], [call("get_weather", city="paris")], True),     # a value differs
    ([call("get_weather", city="Paris", days=1)], [call("get_weather", city="Paris", days=True)], True),  # true != 1
    ([call("get_weather", city="Paris")], [call("get_weather", city="Paris")] * 2, False),  # one call too many
    ([call("get_weather", city="Paris")] * 2, [call("get_weather", city="Paris")], False),  # one call too few
    ([call("get_weather", city="Paris")], [call("get_time", city="Paris")], False),       # another tool
    ([call("get_weather", city="Paris")], [], False),                                     # no call
])
def test_a_call_that_differs_is_no_exact_match(reference, generated, name_match):
    score = score_turn(reference, generated, TOOLS, stopped=True)
    assert score.exact_match is False and score.name_match is name_match and score.no_call is None


def test_argument_validity_against_the_declared_schema():
    generated = [call("get_weather", unit="K"), call("get_weather", city="Rome", days="3"), call("book_flight"),
                 call("get_time", city="Rome")]
    score = score_turn([call("get_time", city="Rome")], generated, TOOLS, stopped=True)
    assert (score.calls, score.valid_calls) == (4, 1)
    assert score.errors == [
        "call 0 get_weather: arguments: missing required argument 'city'",
        "call 0 get_weather: arguments.unit: 'K' is not one of the allowed values ['C', 'F']",
        "call 1 get_weather: arguments.days: expected integer, got string",
        "call 2 book_flight: calls a tool that is not declared",
    ]


def test_a_no_call_turn_scores_whether_the_model_called():
    answered = score_turn([], [], TOOLS, stopped=True)
    called = score_turn([], [call("get_time", city="Rome")], TOOLS, stopped=False)
    assert (answered.calls_expected, answered.no_call, answered.name_match, answered.exact_match) == (
        False, True, None, None)
    assert (called.no_call, called.stopped, called.valid_calls) == (False, False, 1)


@pytest.mark.parametrize("template, cut_off", [
    ("qwen2.5", '<tool_call>\n{"name": "get_time", "arguments": {"city": "Rome"}}\n</tool_call>\n'
                '<tool_call>\n{"name": "get_weather", "argu'),
    ("glm4", 'get_time\n{"city": "Rome"}<|assistant|>get_weather\n{"city": "Pa'),
    ("llama3.1", '{"name": "get_time", "parameters": {"city": "Rome"}}; {"name": "get_weather", "parameters": {"ci'),
    ("glm4.5", "<tool_call>get_time\n<arg_key>city</arg_key>\n<arg_value>Rome</arg_value>\n</tool_call>"
               "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Pa"),
])
def test_output_cut_off_in_a_call_is_a_parse_failure_and_the_complete_calls_count(template, cut_off):
    spec = eval_template(template)
    turn, parse_error = spec.parse(cut_off, TOOLS)
    assert parse_error and [c["function"]["name"] for c in turn["tool_calls"]] == ["get_time"]
    reference = [call("get_time", city="Rome"), call("get_weather", city="Paris")]
    score = score_turn(reference, turn["tool_calls"], TOOLS, stopped=False, parse_error=parse_error)
    assert (score.parse_failure, score.exact_match, score.name_match, score.valid_calls) == (True, False, False, 1)


@pytest.mark.parametrize("template", ["qwen2.5", "glm4", "llama3.1", "glm4.5", "qwen3.5", "chatml-react-en"])
def test_the_reference_turn_as_the_template_renders_it_scores_full_marks(template):
    """What a perfect model generates, the rest of the render after the inference prompt, reads back exactly."""
    messages = [{"role": "user", "content": "Weather in Paris and time in Oslo?"},
                {"role": "assistant", "content": "", "tool_calls": [call("get_weather", city="Paris", days=2),
                                                                     call("get_time", city="Oslo")]}]
    spec = eval_template(template)
    prompt = spec.prompt(messages[:1], TOOLS)
    whole, _ = render(template, messages, TOOLS, add_stop_token=True) if template.startswith("glm") else render(
        template, messages, TOOLS)
    assert whole.startswith(prompt)
    turn, parse_error = spec.parse(whole[len(prompt):], TOOLS)
    score = score_turn(messages[1]["tool_calls"], turn["tool_calls"], TOOLS, stopped=True, parse_error=parse_error)
    assert parse_error is None and score.exact_match and score.valid_calls == 2


def test_group_scores():
    scores = [score_turn([call("get_time", city="Rome")], [call("get_time", city="Rome")], TOOLS, stopped=True),
              score_turn([call("get_time", city="Rome")], [call("get_time", city="Roma")], TOOLS, stopped=True),
              score_turn([call("get_time", city="Rome")], [], TOOLS, stopped=False, parse_error="cut off"),
              score_turn([], [], TOOLS, stopped=True),
              score_turn([], [call("get_weather")], TOOLS, stopped=True)]
    summary = group_scores(scores)
    assert summary["turns"] == 5
    assert summary["tool_name_accuracy"] == {"hits": 2, "total": 3, "rate": 2 / 3}
    assert summary["exact_match"]["hits"] == 1 and summary["no_call_accuracy"]["hits"] == 1
    assert summary["turn_accuracy"] == {"hits": 2, "total": 5, "rate": 0.4}
    assert summary["argument_validity"] == {"hits": 2, "total": 3, "rate": 2 / 3} and summary["calls_made"] == 3
    assert summary["stopped_rate"]["hits"] == 4 and summary["parse_failures"] == 1
    assert group_scores([])["exact_match"] is None


def test_turn_selection_accounts_for_every_row_and_reads_openai_shapes():
    openai_record = {"messages": [
        {"role": "user", "content": "Time in Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_time", "arguments": '{"city": "Rome"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "10:00"},
        {"role": "assistant", "content": "It is 10:00 in Rome."}], "tools": [TIME]}
    no_tools = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    broken = {"messages": "not a conversation"}
    spec = eval_template("qwen2.5")
    selection = select_turns([openai_record, no_tools, broken, openai_record], spec)
    assert (selection.rows_in, selection.rows_used) == (4, 2)
    assert dict(selection.skipped) == {"no_tools": 1, "invalid_row": 1}
    assert selection.rows_in == selection.rows_used + sum(selection.skipped.values())
    first, second = selection.turns[:2]
    assert [t.message_index for t in selection.turns] == [1, 3, 1, 3]
    assert first.reference_calls[0]["function"]["arguments"] == {"city": "Rome"} and not second.reference_calls
    assert first.prompt == render("qwen2.5", first.messages, [TIME], add_generation_prompt=True)[0]
    assert first.prompt.endswith("<|im_start|>assistant\n") and "Time in Rome?" in first.prompt
    only_calls = select_turns([openai_record, no_tools], spec, kinds="calls", limit=1)
    assert [t.message_index for t in only_calls.turns] == [1] and only_calls.rows_in == 1
    json.dumps(selection.examples)  # reasons are reportable as they are
