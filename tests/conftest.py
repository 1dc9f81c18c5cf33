"""Shared test fixtures: the ``../shared`` oracle folder and cached real tokenizers."""

from __future__ import annotations

import os
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
