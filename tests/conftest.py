"""Shared test fixtures: the ``../shared`` oracle folder and cached real tokenizers."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# A fresh datasets cache per test session: load_dataset on a rebuilt folder must never see a stale cached copy.
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="toolcall-tests-datasets-")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TOOLCALL_SHARED", REPO_ROOT.parent / "shared")).resolve()
SHARED_REASON = (
    f"shared test material not found at {SHARED} (set TOOLCALL_SHARED to the folder holding sources/ and "
    "fixtures/tokenizers/); it is always present in CI"
)
requires_shared = pytest.mark.skipif(not (SHARED / "sources").is_dir(), reason=SHARED_REASON)


def shared_path(*parts: str) -> Path:
    """Path inside the shared folder; skips the calling test when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: {SHARED_REASON}")
    return path


@lru_cache(maxsize=None)
def _load_tokenizer(family: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / family))


def toolcall_script() -> str:
    """The installed ``toolcall`` console script of the Python running the tests (tests run it as users do)."""
    beside = Path(sys.executable).with_name("toolcall")
    return str(beside) if beside.exists() else shutil.which("toolcall") or "toolcall"


def load_tokenizer(family: str):
    """A real tokenizer from ``shared/fixtures/tokenizers/<family>`` (cached per session); skips when absent."""
    shared_path("fixtures", "tokenizers", family)
    return _load_tokenizer(family)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "sources").is_dir():
        pytest.skip(SHARED_REASON)
    return SHARED


def read_records(path: Path) -> list:
    """The decodable records of a JSON / JSON-lines file (a JSON array, one object, or one object per line)."""
    from toolcall_templates.build.readers import iter_file

    return [item.record for item in iter_file(Path(path)) if item.error is None]


def rows_and_errors(records, fmt: str | None = None, **options) -> tuple[list, list[str]]:
    """The rows that ``records`` normalize to, and the rejection reason of every other record
    (``normalize_records`` split in two)."""
    from toolcall_templates.normalize import normalize_records

    rows, errors = [], []
    for _, row, error in normalize_records(records, fmt, **options):
        if error is None:
            rows.append(row)
        else:
            errors.append(error)
    return rows, errors


@lru_cache(maxsize=None)
def _stand_in(base: str, special_tokens: tuple[str, ...], eos_token: str | None, chat_template: str | None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / base))
    vocab = tokenizer.get_vocab()
    missing = [token for token in special_tokens if token not in vocab]
    if missing:
        try:
            tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
        except TypeError:  # transformers 4.x (the oldest allowed, run by .ci/run) names the flag differently
            tokenizer.add_special_tokens({"additional_special_tokens": missing},
                                         replace_additional_special_tokens=False)
    if eos_token is not None:
        tokenizer.eos_token = eos_token
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def stand_in_tokenizer(base: str, special_tokens=(), *, eos_token: str | None = None,
                       chat_template: str | None = None):
    """A stand-in for a tokenizer that is not in ``shared/fixtures/tokenizers``: the real ``base`` tokenizer (the
    nearest family, e.g. ``qwen3`` for Qwen3.5, ``glm4`` for GLM-4.5) with the template's ``special_tokens`` added
    as special tokens where the vocabulary lacks them, ``eos_token`` set, and ``chat_template`` installed.

    Cached per arguments (a fresh tokenizer object, never the shared ``load_tokenizer`` one); skips when the
    fixture is absent. Text is tokenized by the base model's BPE, so ids are not the real model's ids: use it for
    masks and boundaries, not for id parity.
    """
    shared_path("fixtures", "tokenizers", base)
    return _stand_in(base, tuple(special_tokens), eos_token, chat_template)


def run_toolcall(*args: str, cwd: Path | None = None) -> "subprocess.CompletedProcess[str]":
    """Run the installed ``toolcall`` console script (the door users use) and capture its exit code and output."""
    import shutil
    import subprocess
    import sys

    script = shutil.which("toolcall")
    command = [script] if script else [sys.executable, "-m", "toolcall_templates.cli"]
    return subprocess.run([*command, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)
