"""The main job: sources in, Hub-ready folder out, every record accounted for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from datasets import load_dataset

from toolcall_templates.build.builder import SourceSpec, build_dataset
from toolcall_templates.build.readers import SourceError
from toolcall_templates.build.recipe import example_sources, load_recipe
from toolcall_templates.cli import main

GOOD = {"messages": [{"role": "user", "content": "ping"}, {"role": "assistant", "content": None,
        "tool_calls": [{"function": {"name": "ping", "arguments": "{}"}}]}, {"role": "tool", "content": "pong"},
        {"role": "assistant", "content": "pong!"}], "tools": [{"type": "function", "function": {"name": "ping"}}]}


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "toolcall-unified"
    result = build_dataset(example_sources(), out, progress=False)
    return out, result


def test_examples_build_every_format_without_rejects(built):
    out, result = built
    report = json.loads((out / "build_report.json").read_text())
    assert report["invariant_holds"]
    for source in report["sources"]:
        assert source["rows_out"] >= 3, source
        assert source["rejected"] == 0, source
        assert source["records_in"] == source["rows_out"] + source["rejected"] + source["duplicates_removed"]


def test_folder_loads_with_load_dataset_default_and_per_config(built):
    out, result = built
    everything = load_dataset(str(out), split="train")
    assert len(everything) == sum(s.rows_out for s in result.stats if not s.eval)
    assert [s.config for s in result.stats if s.eval] == ["bfcl"]  # an evaluation config, as in the recipe
    for stats in result.stats:
        one = load_dataset(str(out), stats.config, split="test" if stats.eval else "train")
        assert len(one) == stats.rows_out and set(one["source"]) == {stats.config}
    row = everything[0]
    assert isinstance(row["tools"][0]["function"]["parameters"], dict) if row["tools"] else True
    calls = [c for r in everything for m in r["messages"] for c in m.get("tool_calls", [])]
    assert calls and all(isinstance(c["function"]["arguments"], dict) for c in calls)
    assert all(None not in m.values() for r in everything for m in r["messages"])


def test_card_has_configs_licenses_and_statistics(built):
    out, result = built
    card = (out / "README.md").read_text()
    header = card.split("---")[1]
    assert "config_name: default" in header and "license: apache-2.0" in header
    for stats in result.stats:
        assert f"config_name: {stats.config}" in header
        assert f"| `{stats.config}`{' (eval)' if stats.eval else ''} |" in card


def test_rebuild_is_byte_identical_and_replaces_atomically(built, tmp_path):
    out, _ = built
    first = _tree_digest(out)
    build_dataset(example_sources(), out, progress=False)
    assert _tree_digest(out) == first
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def test_malformed_lines_and_encodings_are_rejected_not_fatal(tmp_path):
    source = tmp_path / "mixed.jsonl"
    lines = [json.dumps(GOOD).encode(), b"{not json", "\xff\xfe broken".encode("latin-1"),
             json.dumps({"messages": [{"role": "user", "content": "only a question"}]}).encode(),
             json.dumps(GOOD).encode(), json.dumps({"unrelated": 1}).encode()]
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    result = build_dataset([SourceSpec("mixed", str(source))], out, progress=False)
    stats = result.stats[0]
    assert (stats.records_in, stats.rows_out, stats.rejected, stats.duplicates) == (6, 1, 4, 1)
    rejects = [json.loads(line) for line in (out / "rejects" / "mixed.jsonl").read_text().splitlines()]
    reasons = [r["reason"] for r in rejects]
    assert [r["ref"] for r in rejects] == ["mixed.jsonl:2", "mixed.jsonl:3", "mixed.jsonl:4", "mixed.jsonl:6"]
    assert "not valid JSON" in reasons[0] and "not valid UTF-8" in reasons[1]
    assert "no assistant turn" in reasons[2] and "no 'messages' list" in reasons[3]
    assert rejects[2]["record"] == {"messages": [{"role": "user", "content": "only a question"}]}


def test_duplicates_across_sources_are_counted(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.json"
    a.write_text(json.dumps(GOOD) + "\n")
    b.write_text(json.dumps([GOOD, GOOD]))
    result = build_dataset([SourceSpec("a", str(a)), SourceSpec("b", str(b))], tmp_path / "o", progress=False)
    assert [(s.rows_out, s.duplicates) for s in result.stats] == [(1, 0), (0, 2)]


def test_unreadable_sources_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        build_dataset([SourceSpec("x", str(tmp_path / "missing.jsonl"))], tmp_path / "o", progress=False)
    with pytest.raises(SourceError, match="cannot load Hub dataset 'nobody/nothing'"):
        build_dataset([SourceSpec("x", "nobody/nothing")], tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_parallel_build_matches_serial(tmp_path):
    serial = build_dataset(example_sources(), tmp_path / "s", progress=False)
    parallel = build_dataset(example_sources(), tmp_path / "p", num_proc=2, progress=False)
    assert _tree_digest(serial.out_dir) == _tree_digest(parallel.out_dir)


def test_cli_build_sources_formats_and_push_dry_run(tmp_path, capsys):
    source = tmp_path / "calls.jsonl"
    source.write_text(json.dumps(GOOD) + "\n")
    out = tmp_path / "cli-out"
    assert main(["build", "--source", f"calls={source}", "--format", "calls=openai", "--out", str(out),
                 "--no-progress"]) == 0
    assert load_dataset(str(out), "calls", split="train")[0]["messages"][1]["tool_calls"][0]["function"]["name"] == "ping"
    assert main(["build", "--source", "nonsense", "--out", str(out)]) == 2
    assert main(["push", str(out), "--repo-id", "org/name", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "would upload" in printed and "data/calls/train-00000-of-00001-" in printed and "README.md" in printed


def test_recipe_lists_public_sources_with_licenses():
    title, specs = load_recipe(Path(__file__).parent.parent / "dataset_scripts" / "recipe.yaml")
    assert title and len(specs) >= 5
    assert all(spec.license and spec.format and spec.path for spec in specs)


def test_dataset_info_tags_next_to_a_file_are_applied(tmp_path):
    folder = tmp_path / "lf"
    folder.mkdir()
    (folder / "dataset_info.json").write_text(json.dumps({"mine": {
        "file_name": "mine.json", "formatting": "sharegpt",
        "columns": {"messages": "dialog", "tools": "tools"},
        "tags": {"role_tag": "speaker", "content_tag": "text", "user_tag": "U", "assistant_tag": "A",
                 "function_tag": "CALL", "observation_tag": "OBS"}}}))
    record = {"dialog": [{"speaker": "U", "text": "ping?"},
                         {"speaker": "CALL", "text": json.dumps({"name": "ping", "arguments": {}})},
                         {"speaker": "OBS", "text": "pong"}, {"speaker": "A", "text": "pong!"}],
              "tools": json.dumps([{"name": "ping", "description": "", "parameters": {}}])}
    (folder / "mine.json").write_text(json.dumps([record]))
    result = build_dataset([SourceSpec("lf", str(folder), "sharegpt")], tmp_path / "o", progress=False)
    assert (result.stats[0].rows_out, result.stats[0].rejected) == (1, 0)
    row = load_dataset(str(tmp_path / "o"), split="train")[0]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]


def test_rebuilt_folder_with_new_content_loads_fresh_not_from_the_datasets_cache(tmp_path):
    source, out = tmp_path / "s.jsonl", tmp_path / "o"
    for text in ("first version", "second version"):
        record = {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}
        source.write_text(json.dumps(record) + "\n")
        build_dataset([SourceSpec("s", str(source))], out, progress=False)
        assert load_dataset(str(out), split="train")[0]["messages"][0]["content"] == text
        assert load_dataset(str(out), "s", split="train")[0]["messages"][0]["content"] == text


def test_load_unified_decodes_floats_exactly(tmp_path):
    from toolcall_templates import load_unified

    arguments = {"x": 0.3, "y": 0.95, "z": 1.256e-06, "n": 10, "s": "北京"}
    record = {"messages": [{"role": "user", "content": "q"},
                           {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": arguments}}]},
                           {"role": "tool", "content": "r"}, {"role": "assistant", "content": "ok"}],
              "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
                  "x": {"type": "number", "default": 0.1}}}}}]}
    source = tmp_path / "f.jsonl"
    source.write_text(json.dumps(record) + "\n")
    build_dataset([SourceSpec("f", str(source))], tmp_path / "o", progress=False)
    exact = load_unified(str(tmp_path / "o"))
    rows = list(exact)
    assert len(rows) == 1 and rows[0]["messages"][1]["tool_calls"][0]["function"]["arguments"] == arguments
    assert repr(rows[0]["tools"][0]["function"]["parameters"]["properties"]["x"]["default"]) == "0.1"
    assert exact[0]["meta"]["format"] == "openai" and load_unified(str(tmp_path / "o"), "f")[0]["id"] == rows[0]["id"]
