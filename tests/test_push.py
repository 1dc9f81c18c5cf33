"""Publishing (issue 8, point 6): ``rejects/`` is uploaded only on request, and the card says what was built and
where it will live (no ``ORG/...`` placeholder once a repository id is known)."""

from __future__ import annotations

import json

import pytest

from conftest import REPO_ROOT, run_toolcall
from toolcall_templates.build.builder import SourceSpec
from toolcall_templates.build.card import describe_sources
from toolcall_templates.build.push import push_dataset
from toolcall_templates.cli import main

EXAMPLES = REPO_ROOT / "dataset_scripts" / "examples"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A build from two local files, one of whose records is rejected."""
    folder = tmp_path_factory.mktemp("push")
    calls = folder / "calls.jsonl"
    calls.write_text((EXAMPLES / "openai.jsonl").read_text() + '{"unrelated": 1}\n')
    out = folder / "ds"
    assert main(["build", "--source", f"calls={calls}", "--source", f"hermes={EXAMPLES / 'hermes.jsonl'}",
                 "--out", str(out), "--no-progress"]) == 0
    return out


def test_dry_run_leaves_rejects_out_unless_asked_and_names_the_repo(built):
    result = run_toolcall("push", built, "--repo-id", "me/my-tools", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "rejects/" not in result.stdout.split("rejects/ not uploaded")[0]
    assert "would upload 9 files" in result.stdout and 'load_dataset("me/my-tools")' in result.stdout
    with_rejects = run_toolcall("push", built, "--repo-id", "me/my-tools", "--dry-run", "--include-rejects")
    assert "would upload 10 files" in with_rejects.stdout and "rejects/calls.jsonl" in with_rejects.stdout


def test_card_says_what_was_built_and_where(built, tmp_path):
    card = (built / "README.md").read_text()
    assert "from 2 sources: 2 local files or folders (`calls.jsonl`, `hermes.jsonl`)" in card
    assert "public source" not in card
    out = tmp_path / "named"
    assert main(["build", "--source", f"calls={EXAMPLES / 'openai.jsonl'}", "--repo-id", "me/named", "--out",
                 str(out), "--no-progress"]) == 0
    card = (out / "README.md").read_text()
    assert 'load_dataset("me/named", split="train")' in card and "ORG/" not in card and "\n# named\n" in card
    hub = [SourceSpec("glaive", "glaiveai/glaive-function-calling-v2"),
           SourceSpec("hermes", "NousResearch/hermes-function-calling-v1", hub_config="func_calling"),
           SourceSpec("mine", str(EXAMPLES / "openai.jsonl"))]
    assert describe_sources(hub) == ("3 sources: 2 Hub datasets (`NousResearch/hermes-function-calling-v1` "
                                     "(func_calling), `glaiveai/glaive-function-calling-v2`) and 1 local file or "
                                     "folder (`openai.jsonl`)")


def test_push_uploads_the_card_for_the_repo_without_rejects(built, monkeypatch):
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, **kwargs):
            calls["repo"] = (repo_id, kwargs)

        def create_commit(self, repo_id, operations, **kwargs):
            calls["operations"] = {op.path_in_repo: op.path_or_fileobj for op in operations}
            return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/datasets/{repo_id}/commit/1"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = push_dataset(built, "me/my-tools", private=True)
    assert url.endswith("/me/my-tools/commit/1") and calls["repo"][1]["private"] is True
    uploaded = calls["operations"]
    written = json.loads((built / ".toolcall-output.json").read_text())["files"]
    assert "rejects/calls.jsonl" in written
    assert sorted(uploaded) == [path for path in written if not path.startswith("rejects/")]
    card = uploaded["README.md"].decode("utf-8")
    assert 'load_dataset("me/my-tools", split="train")' in card and "ORG/" not in card
    assert "ORG/" in (built / "README.md").read_text()  # the local folder is left as it was
