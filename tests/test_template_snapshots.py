"""Golden-file snapshots: each template's exact output (and generation spans) for a few fixed conversations.

Files: ``tests/snapshots/<template>/<case>.txt`` (the rendered text, byte for byte) and ``<case>.spans.json`` (the
``{% generation %}`` character spans). After an intended template change, regenerate them with
``UPDATE_SNAPSHOTS=1 python -m pytest tests/test_template_snapshots.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from toolcall_templates.templates import render

SNAPSHOTS = Path(__file__).parent / "snapshots"
TEMPLATES = ("qwen2.5", "qwen3", "llama3.1", "llama3.2", "glm4", "glm4-legacy")
DATE = {"date_string": "26 Jul 2024"}

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Current local time of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TRAIN = {"type": "function", "function": {
    "name": "查询火车票", "description": "查询两个城市之间的火车票。",
    "parameters": {"type": "object", "properties": {
        "出发地": {"type": "string", "description": "出发城市"},
        "目的地": {"type": "string", "description": "到达城市"},
        "日期": {"type": "string", "description": "YYYY-MM-DD"}}, "required": ["出发地", "目的地"]}}}


def call(name: str, arguments: dict, call_id: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


CASES: dict[str, tuple[list[dict], list[dict] | None, dict]] = {
    "tools_single_call": ([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "Paris"}, "call_1")]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
         "content": '{"temperature_c": 18, "condition": "sunny"}'},
        {"role": "assistant", "content": "It is 18 °C and sunny in Paris."},
    ], [WEATHER], {}),
    "parallel_calls": ([
        {"role": "user", "content": "Weather and time in Tokyo and Oslo, please."},
        {"role": "assistant", "content": "", "tool_calls": [
            call("get_weather", {"city": "Tokyo", "unit": "celsius"}, "a"), call("get_time", {"city": "Oslo"}, "b")]},
        {"role": "tool", "tool_call_id": "a", "name": "get_weather", "content": '{"temperature_c": 22}'},
        {"role": "tool", "tool_call_id": "b", "name": "get_time", "content": "14:05"},
        {"role": "assistant", "content": "Tokyo is at 22 °C; it is 14:05 in Oslo."},
    ], [WEATHER, TIME], {}),
    "multi_turn": ([
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "Who wrote Dune?"},
        {"role": "assistant", "content": "Frank Herbert wrote Dune."},
        {"role": "user", "content": "When?"},
        {"role": "assistant", "content": "It was published in 1965."},
    ], None, {}),
    "chinese": ([
        {"role": "user", "content": "帮我查一下明天从北京到上海的火车票。"},
        {"role": "assistant", "content": "好的，我来查询。",
         "reasoning_content": "用户要查火车票，需要出发地、目的地和日期。",
         "tool_calls": [call("查询火车票", {"出发地": "北京", "目的地": "上海", "日期": "2024-07-27"}, "t1")]},
        {"role": "tool", "tool_call_id": "t1", "name": "查询火车票",
         "content": '{"车次": ["G1", "G3"], "余票": "充足"}'},
        {"role": "assistant", "content": "明天有 G1 和 G3 两趟车，余票充足。"},
    ], [TRAIN], {}),
    "empty_content_with_calls": ([
        {"role": "user", "content": "Time in Lima?"},
        {"role": "assistant", "content": None, "tool_calls": [call("get_time", {"city": "Lima"}, "x")]},
        {"role": "tool", "tool_call_id": "x", "name": "get_time", "content": "09:12"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Lima"}'}}]},
    ], [{"type": "function", "function": {**WEATHER["function"],
                                          "parameters": json.dumps(WEATHER["function"]["parameters"])}}, TIME],
        {"add_stop_token": True}),
}


def _render(template: str, case: str) -> tuple[str, list[list[int]]]:
    messages, tools, extra = CASES[case]
    kwargs = dict(DATE) if template.startswith("llama") else {}
    if template.startswith("glm4"):
        kwargs.update(extra)
    text, spans = render(template, messages, tools, **kwargs)
    return text, [list(span) for span in spans]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("template", TEMPLATES)
def test_render_matches_golden_file(template, case):
    text, spans = _render(template, case)
    text_file = SNAPSHOTS / template / f"{case}.txt"
    spans_file = SNAPSHOTS / template / f"{case}.spans.json"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        text_file.parent.mkdir(parents=True, exist_ok=True)
        text_file.write_bytes(text.encode("utf-8"))
        spans_file.write_text(json.dumps(spans) + "\n", encoding="utf-8")
    assert text_file.exists(), f"missing snapshot {text_file}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text.encode("utf-8") == text_file.read_bytes()
    assert spans == json.loads(spans_file.read_text(encoding="utf-8"))


def test_snapshot_folder_has_no_stale_files():
    expected = {f"{t}/{c}{suffix}" for t in TEMPLATES for c in CASES for suffix in (".txt", ".spans.json")}
    present = {str(p.relative_to(SNAPSHOTS)) for p in SNAPSHOTS.rglob("*")
               if p.is_file() and p.parent.parent == SNAPSHOTS and p.parent.name in TEMPLATES}
    assert present == expected
