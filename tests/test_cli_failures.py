"""Failures that fail (issue 8, point 4): a run that produces nothing usable exits non-zero with one line and writes
nothing; broken files are file-level errors; unknown options raise; the CLI's rough edges (raw input to tokenize,
``inspect --start`` past the end, ``| head``, ``--version``)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, SHARED, requires_shared, run_toolcall
from toolcall_templates import __version__, normalize
from toolcall_templates.build.builder import SourceSpec, build_dataset
from toolcall_templates.cli import main
from toolcall_templates.sources import UnknownOption, get_format, list_formats

EXAMPLES = REPO_ROOT / "dataset_scripts" / "examples"
QWEN = SHARED / "fixtures" / "tokenizers" / "qwen2.5"


def _one_line_error(result, code: int, *words: str) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(word in errors[0] for word in words), errors[0]
    return errors[0]


def _example_records() -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / "openai.jsonl").read_text().splitlines()]


def test_build_with_nothing_usable_exits_1_and_writes_nothing(tmp_path):
    junk, empty, out = tmp_path / "junk.jsonl", tmp_path / "empty.jsonl", tmp_path / "out"
    junk.write_text('{"unrelated": 1}\n{"unrelated": 2}\n')
    empty.write_text("")
    line = _one_line_error(run_toolcall("build", "--source", f"junk={junk}", "--out", out, "--no-progress"), 1,
                           "2 record(s) read", "2 rejected", "no known tool-call format", "nothing was written")
    assert not out.exists() and line.startswith("toolcall build: error:")
    _one_line_error(run_toolcall("build", "--source", f"empty={empty}", "--out", out, "--no-progress"), 1,
                    "0 record(s)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl", "junk.jsonl"]

    # an earlier output stays as it was when the new build has nothing to write
    good = tmp_path / "good.jsonl"
    good.write_text((EXAMPLES / "openai.jsonl").read_text())
    build_dataset([SourceSpec("good", str(good))], out, progress=False)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError, match="no rows to write"):
        build_dataset([SourceSpec("junk", str(junk))], out, progress=False)
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_truncated_json_array_is_a_file_level_error_not_a_record(tmp_path):
    records = _example_records()
    compact = json.dumps(records)
    pretty = json.dumps(records, indent=2)
    (tmp_path / "compact.json").write_text(compact[: len(compact) // 2])
    (tmp_path / "pretty.json").write_text(pretty[: len(pretty) // 2])
    (tmp_path / "lines.json").write_text("\n".join(json.dumps(r) for r in records) + "\n{broken\n")  # JSON lines
    good = tmp_path / "good.jsonl"
    good.write_text((EXAMPLES / "hermes.jsonl").read_text())
    out = tmp_path / "out"
    result = run_toolcall("build", "--source", f"broken={tmp_path / 'compact.json'}", "--out", out, "--no-progress")
    _one_line_error(result, 1, "compact.json: not valid JSON (Unterminated string starting at line 1 column",
                    "not JSON lines")
    assert "at at" not in result.stderr

    specs = [SourceSpec(name, str(tmp_path / f"{name}.json")) for name in ("compact", "pretty", "lines")]
    report = build_dataset([*specs, SourceSpec("good", str(good))], out, progress=False).report
    by_config = {s["config"]: s for s in report["sources"]}
    for name in ("compact", "pretty"):
        source = by_config[name]
        assert (source["records_in"], source["rejected"]) == (0, 0)
        [unreadable] = source["unreadable_files"]
        assert unreadable["file"] == f"{name}.json" and "not valid JSON (" in unreadable["reason"]
        assert " at line " in unreadable["reason"] and "at at" not in unreadable["reason"]
    lines = by_config["lines"]
    assert (lines["records_in"], lines["rows_out"], lines["rejected"], lines["unreadable_files"]) == (5, 4, 1, [])
    reject = json.loads((out / "rejects" / "lines.jsonl").read_text())
    assert reject["ref"] == "lines.json:5" and "at at" not in reject["reason"]
    assert report["totals"]["unreadable_files"] == 2
    assert "compact.json: not valid JSON" in (out / "README.md").read_text()


def test_unknown_options_raise_for_every_format():
    record = _example_records()[0]
    for name in list_formats():
        accepted = get_format(name).OPTIONS
        assert isinstance(accepted, tuple), name
        with pytest.raises(UnknownOption, match=f"format {name!r} does not take the option\\(s\\) 'tagz'"):
            normalize(record, name, tagz={"role_tag": "from"})
        takes = ", ".join(accepted) or "none"
        with pytest.raises(TypeError, match=f"'tagz'; it takes {takes}$"):
            normalize(record, name, tagz=1)


def test_misspelled_option_on_the_command_line_exits_2(tmp_path):
    source = tmp_path / "calls.jsonl"
    source.write_text((EXAMPLES / "openai.jsonl").read_text())
    result = run_toolcall("build", "--source", f"calls={source}", "--option", "calls.tagz.role_tag=from",
                          "--out", tmp_path / "out", "--no-progress")
    _one_line_error(result, 2, "source 'calls'", "'tagz'")
    assert not (tmp_path / "out").exists()


@requires_shared
def test_tokenize_reads_raw_sources_and_fails_when_every_row_drops(tmp_path):
    raw = tmp_path / "calls.jsonl"
    raw.write_text((EXAMPLES / "openai.jsonl").read_text() + '{"unrelated": 1}\n')
    out = tmp_path / "tok"
    result = run_toolcall("tokenize", "--in", raw, "--tokenizer", QWEN, "--out", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "Parquet" not in result.stderr and "normalized 4/5 records (1 rejected" in result.stdout
    report = json.loads((out / "tokenize_report.json").read_text())
    assert report["normalize"]["rejected"] == 1 and report["rows_out"] == 4 and report["input"] == [str(raw)]

    dropped = tmp_path / "dropped"
    result = run_toolcall("tokenize", "--in", raw, "--tokenizer", QWEN, "--max-length", "8", "--out", dropped,
                          "--no-progress")
    _one_line_error(result, 1, "no rows kept", "too_long: 4", "nothing was written")
    assert not dropped.exists() and not list(tmp_path.glob(".dropped*"))

    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    result = run_toolcall("tokenize", "--in", bad, "--tokenizer", QWEN, "--out", tmp_path / "x", "--no-progress")
    assert _one_line_error(result, 2, "bad.parquet is not a readable parquet file").count("magic bytes") == 1
    assert result.stderr.count("magic bytes") == 1


@requires_shared
def test_inspect_past_the_end_and_into_a_closed_pipe(tmp_path):
    demo = SHARED / "sources" / "llamafactory_sharegpt_tools" / "glaive_toolcall_en_demo.json"
    raw = tmp_path / "demo.json"
    raw.write_text(json.dumps(json.loads(demo.read_text())[:80]))
    out = tmp_path / "tok"
    assert main(["tokenize", "--in", str(raw), "--tokenizer", str(QWEN), "--out", str(out), "--no-progress"]) == 0
    rows = json.loads((out / "tokenize_report.json").read_text())["rows_out"]
    _one_line_error(run_toolcall("inspect", out, "--start", rows), 2, f"--start {rows} is past the end",
                    f"{rows} sample(s)")
    script = shutil.which("toolcall") or f"{shlex.quote(sys.executable)} -m toolcall_templates.cli"
    # far more than a pipe buffer holds, so the writes after `head` exits meet a closed pipe
    piped = subprocess.run(f"{script} inspect {shlex.quote(str(out))} -n {rows} | head -1", shell=True,
                           capture_output=True, text=True, timeout=600)
    assert piped.stdout.startswith("===== #0") and piped.stderr == ""


def test_version():
    result = run_toolcall("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"toolcall (toolcall-templates) {__version__}"
