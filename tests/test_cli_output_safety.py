"""``toolcall build`` / ``toolcall tokenize`` never destroy what they did not write (issue 8, point 1).

The reported cases go through the installed ``toolcall`` script, variations through ``cli.main`` (the same code
in-process, cheaper): a refused output exits 2 with one line on stderr and leaves every file as it was; earlier
outputs are replaced keeping what others added to them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from datasets import load_dataset

from conftest import REPO_ROOT, SHARED, requires_shared, run_toolcall
from toolcall_templates.cli import main

EXAMPLES = REPO_ROOT / "dataset_scripts" / "examples"
MANIFEST = ".toolcall-output.json"


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self) -> str:
        return f"exit {self.returncode}: {self.stderr}"


@pytest.fixture()
def cli(capsys):
    """``toolcall ARGS`` in-process: an object with ``returncode``, ``stdout`` and ``stderr``."""
    def run(*args) -> _Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return _Result(code, captured.out, captured.err)

    return run


def _refused(result, *words: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolcall "), result.stderr
    assert all(word in lines[0] for word in words), lines[0]


@pytest.fixture()
def user_folder(tmp_path):
    """A user's folder: a source file and a notes file."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "calls.jsonl").write_bytes((EXAMPLES / "openai.jsonl").read_bytes())
    (folder / "notes.txt").write_text("my notes\n")
    return folder


def test_output_that_is_or_holds_an_input_is_refused_even_with_overwrite(user_folder, tmp_path, cli):
    before = _snapshot(user_folder)
    source = f"calls={user_folder / 'calls.jsonl'}"
    _refused(run_toolcall("build", "--source", source, "--out", user_folder, "--no-progress"), "contains the input")
    _refused(run_toolcall("build", "--source", "calls=calls.jsonl", "--out", ".", "--overwrite", "--no-progress",
                          cwd=user_folder), "contains the input")
    _refused(cli("build", "--source", f"all={user_folder}", "--out", user_folder / "built", "--overwrite",
                 "--no-progress"), "lies inside the input")
    link = tmp_path / "link"
    link.symlink_to(user_folder, target_is_directory=True)
    _refused(cli("build", "--source", source, "--out", link, "--overwrite", "--no-progress"), "contains")
    assert _snapshot(user_folder) == before and not (user_folder / "built").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "mine"]  # no temporary folder left behind


def test_foreign_folder_needs_overwrite_which_keeps_its_files(user_folder, tmp_path, cli):
    out = tmp_path / "notes-folder"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    source = f"calls={user_folder / 'calls.jsonl'}"
    _refused(run_toolcall("build", "--source", source, "--out", out, "--no-progress"), "--overwrite")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]

    result = run_toolcall("build", "--source", source, "--out", out, "--overwrite", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert (out / "notes.txt").read_text() == "keep me\n" and "kept 1 file(s)" in result.stderr
    assert len(load_dataset(str(out), split="train")) == 4
    manifest = json.loads((out / MANIFEST).read_text())
    assert "notes.txt" not in manifest["files"] and "README.md" in manifest["files"]

    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("build", "--source", source, "--out", empty, "--no-progress").returncode == 0
    assert (empty / "build_report.json").is_file()


def test_rebuild_replaces_only_what_the_earlier_build_wrote(tmp_path, cli):
    source, out = tmp_path / "calls.jsonl", tmp_path / "ds"
    lines = (EXAMPLES / "openai.jsonl").read_text().splitlines(keepends=True)
    source.write_text("".join(lines[:2]))
    assert cli("build", "--source", f"calls={source}", "--out", out, "--no-progress").returncode == 0
    first_shards = sorted(p.name for p in (out / "data" / "calls").iterdir())
    (out / "my-notes.md").write_text("notes\n")
    (out / "data" / "extra.txt").write_text("mine\n")

    source.write_text("".join(lines))
    result = run_toolcall("build", "--source", f"calls={source}", "--out", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert (out / "my-notes.md").read_text() == "notes\n" and (out / "data" / "extra.txt").read_text() == "mine\n"
    shards = sorted(p.name for p in (out / "data" / "calls").iterdir())
    assert len(shards) == 1 and shards != first_shards  # the earlier shard is gone, not left beside the new one
    assert len(load_dataset(str(out), split="train")) == len(lines)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.")]

    # a file someone put where the new output writes: refused (nothing touched), replaced only with --overwrite
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"unrelated": 1}\n')
    (out / "rejects").mkdir()
    (out / "rejects" / "junk.jsonl").write_text("theirs\n")
    before = _snapshot(out)
    args = ("build", "--source", f"calls={source}", "--source", f"junk={junk}", "--out", out, "--no-progress")
    _refused(cli(*args), "rejects/junk.jsonl")
    assert _snapshot(out) == before
    assert cli(*args, "--overwrite").returncode == 0
    assert json.loads((out / "rejects" / "junk.jsonl").read_text())["record"] == {"unrelated": 1}
    assert (out / "my-notes.md").exists()


@requires_shared
def test_tokenize_output_rules(tmp_path, user_folder, cli):
    tokenizer = SHARED / "fixtures" / "tokenizers" / "qwen2.5"
    built = tmp_path / "built"
    assert cli("build", "--source", f"calls={user_folder / 'calls.jsonl'}", "--out", built,
               "--no-progress").returncode == 0
    before = _snapshot(built)
    base = ("tokenize", "--tokenizer", tokenizer, "--no-progress", "--in")
    _refused(run_toolcall(*base, built, "--out", user_folder), "not written by toolcall", "--overwrite")
    _refused(cli(*base, built, "--out", built, "--overwrite"), "is the input")
    _refused(cli(*base, built, "--out", tokenizer / "tokenized"), "lies inside the input")
    assert _snapshot(built) == before and sorted(p.name for p in user_folder.iterdir()) == ["calls.jsonl", "notes.txt"]

    out = tmp_path / "tok"
    assert cli(*base, built, "--out", out).returncode == 0
    (out / "notes.txt").write_text("mine\n")
    result = cli(*base, built, "--out", out, "--save-format", "parquet")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "data", "notes.txt", "tokenize_report.json"]


def test_help_states_the_output_rule_and_exit_codes(capsys):
    for command in ("build", "tokenize"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--overwrite" in text and "contains or lies inside" in text, command
        assert "Exit codes: 0" in text and "1 " in text and "2 bad options or input" in text, command
