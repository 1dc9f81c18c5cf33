"""LLaMA-Factory data folders are read through their ``dataset_info.json`` (issue 8, point 5): each registered
dataset with tool data becomes a config named after its entry, with its columns and tags; files it does not
register are not read; ``FOLDER:ENTRY`` selects one, from the CLI and from a recipe; ``--option`` gives ShareGPT
tags and columns to files that have no ``dataset_info.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load_dataset

from conftest import run_toolcall, shared_path
from toolcall_templates.cli import main

ENTRIES = ("glaive_toolcall_en_demo", "glaive_toolcall_zh_demo")
TAGS = {"role_tag": "speaker", "content_tag": "text", "user_tag": "U", "assistant_tag": "A",
        "function_tag": "CALL", "observation_tag": "OBS", "system_tag": "SYS"}


def _record(question: str) -> dict:
    return {"dialog": [{"speaker": "U", "text": question},
                       {"speaker": "CALL", "text": json.dumps({"name": "ping", "arguments": {"host": question}})},
                       {"speaker": "OBS", "text": "pong"}, {"speaker": "A", "text": "It answers."}],
            "functions": json.dumps([{"name": "ping", "description": "ping a host", "parameters": {
                "type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}}]),
            "instructions": "Be brief."}


@pytest.fixture()
def custom_folder(tmp_path) -> Path:
    """A LLaMA-Factory folder with renamed columns and tags, a chat-only entry, a Hub entry, and an unrelated file."""
    folder = tmp_path / "lf"
    folder.mkdir()
    (folder / "dataset_info.json").write_text(json.dumps({
        "my_tools": {"file_name": "calls.json", "formatting": "sharegpt", "tags": TAGS,
                     "columns": {"messages": "dialog", "tools": "functions", "system": "instructions"}},
        "chat_only": {"file_name": "chat.json", "formatting": "sharegpt"},
        "on_the_hub": {"hf_hub_url": "org/name", "formatting": "sharegpt", "columns": {"tools": "tools"}},
    }))
    (folder / "calls.json").write_text(json.dumps([_record("a.example"), _record("b.example")]))
    (folder / "chat.json").write_text(json.dumps([{"conversations": [{"from": "human", "value": "hi"},
                                                                     {"from": "gpt", "value": "hello"}]}]))
    (folder / "unrelated.jsonl").write_text(json.dumps({"messages": [{"role": "user", "content": "x"},
                                                                     {"role": "assistant", "content": "y"}]}) + "\n")
    return folder


def test_custom_columns_and_tags_are_honoured_and_unregistered_files_not_read(custom_folder, tmp_path):
    out = tmp_path / "out"
    result = run_toolcall("build", "--source", f"lf={custom_folder}", "--out", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "registers 1 dataset(s) with tool data, one config each: my_tools" in result.stderr
    assert "2 other entries skipped (1 without tool data, 1 Hub-only)" in result.stderr
    report = json.loads((out / "build_report.json").read_text())
    assert [(s["config"], s["format"], s["records_in"], s["rows_out"]) for s in report["sources"]] == [
        ("my_tools", "sharegpt", 2, 2)]  # unrelated.jsonl and chat.json are not read
    row = load_dataset(str(out), "my_tools", split="train")[0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert row["messages"][0]["content"] == "Be brief."
    assert row["messages"][2]["tool_calls"][0]["function"] == {"name": "ping", "arguments": {"host": "a.example"}}
    assert row["meta"]["ref"] == "calls.json#0" and row["tools"][0]["function"]["name"] == "ping"


def test_entries_are_selected_by_name_from_the_cli_and_a_recipe(custom_folder, tmp_path, capsys):
    out = tmp_path / "one"
    assert main(["build", "--source", f"chat={custom_folder}:chat_only", "--source",
                 f"tools={custom_folder / 'dataset_info.json'}:my_tools", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert [(s["config"], s["records_in"]) for s in report["sources"]] == [("chat", 1), ("tools", 2)]

    recipe = custom_folder.parent / "recipe.yaml"
    recipe.write_text("title: mine\nsources:\n"
                      "  - {config: picked, path: 'lf:my_tools', license: mit}\n"
                      "  - {config: whole, path: lf, options: {tags: {assistant_tag: A}}}\n")
    capsys.readouterr()
    assert main(["build", "--recipe", str(recipe), "--out", str(tmp_path / "recipe-out"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "recipe-out" / "build_report.json").read_text())
    assert [(s["config"], s["rows_out"]) for s in report["sources"]] == [("picked", 2), ("my_tools", 0)]
    assert report["sources"][1]["duplicates_removed"] == 2  # the same records, read twice

    assert main(["build", "--source", f"x={custom_folder}:on_the_hub", "--out", str(tmp_path / "x")]) == 2
    assert "entry 'on_the_hub'" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["build", "--source", f"x={custom_folder}:nope", "--out", str(tmp_path / "x")]) == 2
    assert "defines no entry 'nope' (entries with tool data: my_tools)" in capsys.readouterr().err


def test_shared_llamafactory_folder_gives_one_config_per_registered_tool_dataset(tmp_path, capsys):
    folder = shared_path("sources", "llamafactory_sharegpt_tools")
    out = tmp_path / "out"
    assert main(["build", "--source", f"lf={folder}", "--out", str(out), "--no-progress"]) == 0
    assert "102 other entries skipped" in capsys.readouterr().err
    report = json.loads((out / "build_report.json").read_text())
    sources = {s["config"]: s for s in report["sources"]}
    assert tuple(sources) == ENTRIES
    assert all(s["records_in"] == 240 and s["rejected"] == 0 and s["format"] == "sharegpt" for s in sources.values())
    for entry in ENTRIES:
        assert len(load_dataset(str(out), entry, split="train")) == sources[entry]["rows_out"]
    assert "LLaMA-Factory dataset glaive_toolcall_en_demo (glaive_toolcall_en_demo.json)" in (out / "README.md").read_text()


def test_option_flag_gives_sharegpt_tags_to_a_file_without_dataset_info(tmp_path, capsys):
    source = tmp_path / "calls.json"
    source.write_text(json.dumps([_record("c.example")]))
    out = tmp_path / "out"
    options = [f"calls.tags.{key}={value}" for key, value in TAGS.items()]
    options += ["calls.columns.messages=dialog", "calls.columns.tools=functions", "calls.columns.system=instructions"]
    args = ["build", "--source", f"calls={source}", "--format", "calls=sharegpt", "--out", str(out), "--no-progress"]
    assert main([*args, *(flag for option in options for flag in ("--option", option))]) == 0
    row = load_dataset(str(out), split="train")[0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    capsys.readouterr()
    assert main([*args, "--option", "calls.tags.role_tagz=speaker"]) == 2
    assert "unknown key(s) 'role_tagz'" in capsys.readouterr().err
    assert main([*args, "--option", "nope.tags.role_tag=speaker"]) == 2
    assert "names no source config; configs: calls" in capsys.readouterr().err
