"""ToolBench DFS answer files: the 15 real answer files and 5 query files, Finish mapping, chain choice, errors."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import pytest
from conftest import rows_and_errors, shared_path
from test_source_xlam import EXAMPLES, assert_detector_claims_only_its_records

from toolcall_templates.errors import InvalidRecord
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format, toolbench

ROOT = ("sources", "toolbench_dfs_answers")


@cache
def _answer(group: str, name: str) -> dict:
    return json.loads(shared_path(*ROOT, "answer", f"{group}_answer", f"{name}_ChatGPT_DFS_woFilter_w2.json").read_text())


def _answer_files() -> list[Path]:
    return sorted(shared_path(*ROOT, "answer").rglob("*.json"))


def _outcomes(**options) -> tuple[list[dict], list[str]]:
    return rows_and_errors((json.loads(path.read_text()) for path in _answer_files()), "toolbench", **options)


def _examples() -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / "toolbench.jsonl").read_text(encoding="utf-8").splitlines()]


def test_detector_claims_only_toolbench_records():
    assert_detector_claims_only_its_records(toolbench)


def test_real_answer_files_counts():
    rows, errors = _outcomes()
    assert len(_answer_files()) == 15 and len(rows) == 9 and len(errors) == 6
    assert sum("valid_data: false" in e for e in errors) == 2
    assert sum("give_up_and_restart" in e for e in errors) == 4
    assert all(row["meta"]["finish_type"] == "give_answer" for row in rows)
    assert all(not any(c["function"]["name"] == "Finish" for m in row["messages"] for c in m.get("tool_calls", []))
               for row in rows)
    assert all("Finish" not in [t["function"]["name"] for t in row["tools"]] for row in rows)


def test_finish_call_mode_keeps_give_up_chains():
    rows, errors = _outcomes(finish="call")
    assert len(rows) == 13 and len(errors) == 2
    assert sorted(row["meta"]["finish_type"] for row in rows).count("give_up") == 4
    assert all(row["messages"][-1]["tool_calls"][-1]["function"]["name"] == "Finish" for row in rows)


def test_real_row_exactly():
    record = _answer("G1", "10")
    row = normalize(record, "toolbench")
    # ToolBench's AutoGPT prompt (the whole system message) and the "\n...\nBegin!\n" around the query are removed
    removed = row["meta"].pop("removed_instructions")
    assert [(e["message"], e["role"], e["dropped"]) for e in removed] == [(0, "system", True), (1, "user", False)]
    assert removed[0]["spans"][0]["text"].startswith("You are AutoGPT, you can use many tools(functions)")
    assert [(s["position"], s["text"]) for s in removed[1]["spans"]] == [(0, "\n"), (228, "\nBegin!\n")]
    assert row["meta"].pop("format_instructions") == ["removed"]
    messages = [{"role": "system", "content": removed[0]["spans"][0]["text"]}, *row["messages"]]  # source indices
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert messages[1]["content"].startswith("Can you retrieve the contact details of the 'Gondrand' customs agency")
    assert messages[1]["content"].endswith("Also, please provide a list of all available transitaires.")
    first, second = messages[2]["tool_calls"][0], messages[4]["tool_calls"][0]
    assert first["function"] == {"name": "transitaires_for_transitaires", "arguments": {}}
    assert second["function"] == {"name": "transitaire_for_transitaires",
                                   "arguments": {"is_id": "ACT_AGENCE_CALEDONIENNE_DE_TRANSIT"}}
    assert messages[3]["tool_call_id"] == first["id"] and messages[5]["tool_call_id"] == second["id"]
    assert messages[5]["name"] == "transitaire_for_transitaires"
    assert "ACT - Agence Cal\\u00e9donienne de Transit" in messages[5]["content"]
    assert messages[6] == {"role": "assistant", "content": (
        "The contact details of the 'Gondrand' customs agency in New Caledonia are as follows:\n\nName: ACT - Agence "
        "Calédonienne de Transit\nPostal Code: 98800\nEmail: sales@act.nc\nPhone Number: +687 27.55.48")}
    assert row["meta"] == {"finish_type": "give_answer", "chain_index": 2, "chain_count": 3, "diversity_prompts": 0,
                           "query_count": 3, "license": "apache-2.0", "format": "toolbench"}
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in row["tools"]}
    assert set(tools) == {"transitaire_for_transitaires", "transitaires_for_transitaires"}
    assert "optional" not in tools["transitaire_for_transitaires"] and tools["transitaire_for_transitaires"]["required"] == ["is_id"]


def test_finish_thought_becomes_reasoning_and_text_turns_are_kept():
    row = normalize(_answer("G2", "102"), "toolbench")
    final = row["messages"][-1]
    assert final["content"].startswith("The package with tracking number YT2003521266065328 is being handled by Yun")
    assert final["reasoning_content"].startswith("Based on the carrier detection, the package is being handled by Yun")
    text_turn = normalize(_answer("G1", "57"), "toolbench")["messages"]
    assert [m["role"] for m in text_turn[-2:]] == ["assistant", "assistant"]
    assert text_turn[-2]["content"].startswith("I apologize, but it seems that I am unable to retrieve any news")
    assert "tool_calls" not in text_turn[-2]


def test_diversity_prompt_is_kept_as_user_turn():
    row = normalize(_answer("G3", "15"), "toolbench")
    users = [m["content"] for m in row["messages"] if m["role"] == "user"]
    assert len(users) == 2 and users[1].startswith("This is not the first time you try this task")
    assert row["meta"]["diversity_prompts"] == 1 and row["meta"]["chain_index"] == 4
    assert not any("valid" in m for m in row["messages"])


def test_undeclared_real_call_is_a_warning():
    row = normalize(_answer("G3", "21"), "toolbench")
    assert row["warnings"] == ["messages[3].tool_calls[0] dota_2_steam_web: calls a tool that is not declared"]
    with pytest.raises(InvalidRecord, match="strict mode"):
        normalize(_answer("G3", "21"), "toolbench", strict=True)


def test_query_files_are_recognized_and_rejected():
    records = [r for path in sorted(shared_path(*ROOT, "instruction").glob("*.json"))
               for r in json.loads(path.read_text())]
    assert len(records) == 12 and all(detect_format(r) == "toolbench" for r in records)
    for record in records:
        with pytest.raises(InvalidRecord, match="query record .* no answer"):
            normalize(record)


def test_examples_normalize():
    rows = [normalize(record) for record in _examples()]
    assert len(rows) == 3 and all(row["warnings"] == [] for row in rows)
    chinese = rows[1]["messages"]
    assert chinese[0]["content"] == "我下周要去杭州出差，请帮我查一下杭州未来三天的天气，并把“西湖”这个词翻译成英文和日文。"
    assert chinese[4]["tool_calls"][0]["function"]["arguments"] == {"city": "杭州"}
    assert chinese[-1]["content"].endswith("英文 West Lake，日文 西湖（せいこ）。")
    assert [m["role"] for m in rows[2]["messages"]][-2:] == ["assistant", "assistant"]


# -- hand-written edge cases -------------------------------------------------------------------------------------------
def _minimal(chains: list[list[dict]], **generation) -> dict:
    function = [{"name": "f", "description": "", "parameters": {"type": "object", "properties": {}, "required": []}},
                {"name": "Finish", "description": "", "parameters": {"type": "object", "properties": {}}}]
    return {"answer_generation": {"valid_data": True, "function": function, "train_messages": chains, **generation}}


def _finish(arguments: str, content=None) -> dict:
    return {"role": "assistant", "content": content, "function_call": {"name": "Finish", "arguments": arguments}}


BASE = [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "{\"error\": \"\", \"response\": \"ok\"}"}]


def test_last_give_answer_chain_wins_over_a_later_give_up():
    answered = BASE + [_finish('{"return_type": "give_answer", "final_answer": "done"}')]
    gave_up = BASE + [_finish('{"return_type": "give_up_and_restart"}')]
    row = normalize(_minimal([BASE[:3], answered, gave_up]), "toolbench")
    assert row["messages"][-1] == {"role": "assistant", "content": "done"} and row["meta"]["chain_index"] == 1


def test_finish_arguments_as_python_literal_are_repaired():
    row = normalize(_minimal([BASE + [_finish("{'return_type': 'give_answer', 'final_answer': 'ok'}")]]), "toolbench")
    assert row["messages"][-1]["content"] == "ok"


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["answer_generation"].update(valid_data=False), "valid_data: false"),
    (lambda r: r["answer_generation"].pop("train_messages"), "no 'train_messages'"),
    (lambda r: r["answer_generation"].update(train_messages=[BASE]), "ends with a Finish call"),
    (lambda r: r["answer_generation"]["train_messages"][0].__setitem__(-1, _finish('{"return_type": "give_answer"}')),
     "no final_answer"),
    (lambda r: r["answer_generation"]["train_messages"][0].__setitem__(-1, _finish("{broken")), "Finish arguments"),
    (lambda r: r["answer_generation"]["train_messages"][0].__setitem__(1, "oops"), r"\[0\]\[1\] is not an object"),
    (lambda r: r["answer_generation"].update(function="nope"), "is not valid JSON"),
    (lambda r: r.update(answer_generation="x"), "no 'answer_generation'"),
])
def test_malformed_answer_files_are_rejected(mutate, message):
    record = _minimal([BASE + [_finish('{"return_type": "give_answer", "final_answer": "done"}')]])
    record = copy.deepcopy(record)
    mutate(record)
    with pytest.raises(InvalidRecord, match=message):
        normalize(record, "toolbench")


def test_finish_in_tool_calls_form():
    finish = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
        "name": "Finish", "arguments": '{"return_type": "give_answer", "final_answer": "done"}'}}]}
    assert normalize(_minimal([BASE + [finish]]), "toolbench")["messages"][-1]["content"] == "done"
    finish["tool_calls"].append({"type": "function", "function": {"name": "f", "arguments": "{}"}})
    with pytest.raises(InvalidRecord, match="also calls other tools"):
        normalize(_minimal([BASE + [finish]]), "toolbench")
    assert normalize(_minimal([BASE + [finish]]), "toolbench", finish="call")["messages"][-1]["tool_calls"][1][
        "function"]["name"] == "f"


def test_unknown_finish_option_is_rejected():
    record = _minimal([BASE + [_finish('{"return_type": "give_answer", "final_answer": "done"}')]])
    with pytest.raises(InvalidRecord, match="option finish"):
        normalize(record, "toolbench", finish="drop")
