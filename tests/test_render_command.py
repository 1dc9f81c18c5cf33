"""``toolcall render``: canonical rows and source records in, rendered conversations out."""

from __future__ import annotations

import argparse
import json
import re
import subprocess

import pytest
from conftest import SHARED, requires_shared, shared_path, toolcall_script
from test_openai_shapes import tokenizers_for

from toolcall_templates.commands import render as render_command
from toolcall_templates.normalize import normalize
from toolcall_templates.templates import list_templates, render

OPENAI_RECORD = {
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather.",
                                                "parameters": {"type": "object", "properties": {
                                                    "city": {"type": "string"}}, "required": ["city"]}}}],
    "messages": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "snow"},
        {"role": "assistant", "content": "It snows in Oslo."},
    ],
}


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="toolcall")
    render_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["render", *argv])
    return args.run(args)


@pytest.fixture
def rows_file(tmp_path):
    row = normalize(OPENAI_RECORD)
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return path, row


def test_renders_canonical_rows_as_the_template_does(rows_file, capsys):
    path, row = rows_file
    assert run_cli("--template", "chatml-react-en", str(path)) == 0
    out = capsys.readouterr().out
    text, _ = render("chatml-react-en", row["messages"], row["tools"])
    assert out == f"=== rows.jsonl:1 id={row['id']} format=openai\n{text}\n"


def test_normalizes_source_records(tmp_path, capsys):
    path = tmp_path / "openai.json"
    path.write_text(json.dumps([OPENAI_RECORD, OPENAI_RECORD]), encoding="utf-8")
    assert run_cli("-t", "function_call", "--limit", "1", str(path)) == 0
    out = capsys.readouterr().out
    assert out.count("=== openai.json#") == 1
    assert '<function_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</function_call>' in out


def test_reads_parquet_written_with_the_canonical_features(tmp_path, rows_file, capsys):
    from datasets import Dataset

    from toolcall_templates.schema import features

    _, row = rows_file
    path = tmp_path / "part-00000.parquet"
    Dataset.from_list([row], features=features()).to_parquet(str(path))
    assert run_cli("--template", "chatml-toolbench", "--json", str(path)) == 0
    printed = json.loads(capsys.readouterr().out)
    text, spans = render("chatml-toolbench", row["messages"], row["tools"])
    assert printed["text"] == text and printed["generation_spans"] == [list(s) for s in spans]
    assert printed["id"] == row["id"] and printed["format"] == "openai"


def test_mark_and_render_arguments(rows_file, capsys):
    path, _ = rows_file
    assert run_cli("-t", "chatml-react-en", "--mark", "--arg", 'observation_separator=" "', str(path)) == 0
    out = capsys.readouterr().out
    assert ("⟦Action: get_weather\nAction Input: {'city': 'Oslo'}\nObservation:⟧ snow\n"
            "⟦It snows in Oslo.<|im_end|>⟧") in out


def test_generation_prompt(rows_file, capsys):
    path, _ = rows_file
    assert run_cli("-t", "chatml-function-call", "--generation-prompt", str(path)) == 0
    assert capsys.readouterr().out.endswith("<|im_start|>assistant\n\n")


def test_bad_records_are_reported_and_the_rest_rendered(tmp_path, capsys):
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([json.dumps(OPENAI_RECORD), "{not json", json.dumps({"foo": 1}),
                               json.dumps({"messages": [{"role": "tool", "content": "x"}]})]) + "\n", encoding="utf-8")
    assert run_cli("-t", "chatml-react-en", str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out.count("=== mixed.jsonl:") == 1
    assert "mixed.jsonl:2: line is not valid JSON" in captured.err
    assert "mixed.jsonl:3: no known tool-call format" in captured.err
    assert "mixed.jsonl:4:" in captured.err


@pytest.mark.parametrize("argv, message", [
    (["-t", "no-such-template", "x.jsonl"], "unknown template"),
    (["x.jsonl"], "give --template"),
    (["-t", "chatml-react-en", "--arg", "no_equals", "x.jsonl"], "KEY=VALUE"),
    (["-t", "chatml-react-en", "does/not/exist.jsonl"], "does not exist"),
])
def test_usage_errors_exit_2(argv, message, capsys):
    assert run_cli(*argv) == 2
    assert message in capsys.readouterr().err


def test_decode_canonical_rejects_broken_json_columns():
    from toolcall_templates.errors import InvalidRecord

    row = {"id": "x", "source": "s", "tools": [], "messages": ["{broken"], "meta": "{}", "warnings": []}
    with pytest.raises(InvalidRecord, match="not JSON"):
        render_command.decode_canonical(row)
    assert render_command.parse_render_args(["a=1", "b=text", 'c="q"']) == {"a": 1, "b": "text", "c": "q"}


def test_tokenizer_detects_the_template_and_counts_trained_tokens(rows_file, capsys):
    path, row = rows_file
    tokenizer_dir = shared_path("fixtures", "tokenizers", "qwen2.5")
    assert run_cli("--tokenizer", str(tokenizer_dir), "--json", str(path)) == 0
    printed = json.loads(capsys.readouterr().out)
    text, _ = render("qwen2.5", row["messages"], row["tools"])
    assert printed["text"] == text
    assert 0 < printed["num_trained_tokens"] < printed["num_tokens"]


def test_tokenizer_of_another_family_is_refused(rows_file, capsys):
    path, _ = rows_file
    tokenizer_dir = shared_path("fixtures", "tokenizers", "glm4")
    assert run_cli("--tokenizer", str(tokenizer_dir), "-t", "chatml-react-zh", str(path)) == 2
    assert "needs the special token(s) <|im_start|>, <|im_end|>" in capsys.readouterr().err


@requires_shared
def test_renders_the_shared_ms_swift_agent_examples(capsys):
    path = SHARED / "sources" / "ms_swift_agent" / "doc_examples"
    path = path / "ms_swift_Agent-support_tool_call_tool_response.jsonl"
    assert run_cli("-t", "react_en", "--mark", str(path)) == 0
    out = capsys.readouterr().out
    assert out.count("=== ") == 2
    assert ("⟦Action: realtime_aqi\nAction Input: {'city': 'Beijing'}\nAction: realtime_aqi\nAction Input: "
            "{'city': 'Shanghai'}\nObservation:⟧") in out


GLM_ROWS = [
    {"tools": OPENAI_RECORD["tools"], "messages": OPENAI_RECORD["messages"]},  # ends with an answer: <|user|>
    {"tools": OPENAI_RECORD["tools"], "messages": OPENAI_RECORD["messages"][:2]},  # ends with a call: <|observation|>
]


def marked_segments(text: str) -> list[str]:
    """The ``⟦...⟧`` segments of ``render --mark`` / ``inspect`` output."""
    return re.findall("⟦(.*?)⟧", text, re.DOTALL)


def trained_segments(tokenizer, ids: list[int], labels: list[int]) -> list[str]:
    """The decoded runs of trained tokens of a tokenized row."""
    runs, start = [], None
    for index, label in enumerate([*labels, -100]):
        if label != -100 and start is None:
            start = index
        elif label == -100 and start is not None:
            runs.append(tokenizer.decode(ids[start:index]))
            start = None
    return runs


@pytest.mark.parametrize("template", list_templates())
def test_mark_shows_exactly_the_trained_text(template, tmp_path, capsys):
    """``toolcall render --mark`` marks what ``tokenize_conversation`` trains, stop tokens included: for GLM-4 the
    stop token appended after the final turn (``<|user|>`` after an answer, ``<|observation|>`` after calls).
    Compared on every row tokenization keeps as one row (a template that rewrites history may split a conversation
    into rows of its own, which one render cannot show)."""
    from toolcall_templates import tokenize_conversation
    from toolcall_templates.tokenization.tokenize import ConversationDropped

    _, tokenizer = tokenizers_for(template)[0]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in GLM_ROWS), encoding="utf-8")
    assert run_cli("-t", template, "--mark", str(path)) == 0
    shown = [marked_segments(part) for part in capsys.readouterr().out.split("=== ")[1:]]
    compared = 0
    for row, segments in zip(GLM_ROWS, shown, strict=True):
        try:
            encoded = tokenize_conversation(normalize(row), tokenizer, template)
        except ConversationDropped as exc:
            assert exc.drop_reason == "split_rows", exc
            continue
        assert segments == trained_segments(tokenizer, encoded["input_ids"], encoded["labels"])
        compared += 1
    assert compared
    if template == "glm4":
        assert shown[0][-1].endswith("<|user|>") and shown[1][-1].endswith("<|observation|>")


def test_mark_agrees_with_inspect(tmp_path):
    """``toolcall render --mark`` and ``toolcall inspect`` of the built rows mark the same GLM-4 text."""
    tokenizer_dir = shared_path("fixtures", "tokenizers", "glm4")
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in GLM_ROWS), encoding="utf-8")
    built = tmp_path / "built"
    subprocess.run([toolcall_script(), "build", "--source", f"openai={path}", "--out", str(built), "--no-progress"],
                   capture_output=True, text=True, check=True)
    rendered = subprocess.run([toolcall_script(), "render", "-t", "glm4", "--mark", str(path)],
                              capture_output=True, text=True, check=True).stdout
    inspected = subprocess.run([toolcall_script(), "inspect", str(built), "--tokenizer", str(tokenizer_dir),
                                "--template", "glm4", "--color", "never", "-n", "5"],
                               capture_output=True, text=True, check=True).stdout
    by_id = {part.split(" id=")[1].split()[0]: marked_segments(part) for part in rendered.split("=== ")[1:]}
    inspected_by_id = {part.split(" id=")[1].split(":")[0]: marked_segments(part)
                       for part in inspected.split("===== ")[1:] if " id=" in part}
    assert by_id == inspected_by_id and len(by_id) == 2
