"""Hub datasets read as files: downloaded with ``huggingface_hub`` (only the files matching ``data_files``) and read
like a local folder.

Used where ``datasets.load_dataset`` cannot read a repository: one whose files have different columns (BFCL's
question and answer files fail with ``DatasetGenerationCastError``), a format that joins files of its own (a BFCL
data folder), and evaluation sets, of which only the text is needed. The download goes to the Hugging Face cache
(with ``HF_HUB_OFFLINE=1`` a cached snapshot is used). A cached snapshot may hold more files than were asked for, so
the matching files are presented in a temporary folder of links named after the repository, laid out as in it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .readers import SourceError


@contextmanager
def dataset_files(repo_id: str, *, revision: str | None = None, data_files: Any = None) -> Iterator[Path]:
    """A folder holding the files of Hub dataset ``repo_id`` that match ``data_files`` (a glob or a list of globs;
    every file when None), for the duration of the block. ``SourceError`` when they cannot be had."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import filter_repo_objects

    patterns = [data_files] if isinstance(data_files, str) else data_files
    if patterns is not None and (not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns)):
        raise SourceError(f"data_files of Hub dataset {repo_id!r} must be a glob or a list of globs, "
                          f"got {data_files!r}")
    try:
        snapshot = Path(snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=patterns))
    except Exception as exc:  # network, auth, missing repo or revision: all mean "cannot read this dataset"
        raise SourceError(
            f"cannot download Hub dataset {repo_id!r}{f' (revision {revision!r})' if revision else ''}: "
            f"{type(exc).__name__}: {exc}. Downloading needs network access (and HF_HUB_OFFLINE unset) or the files "
            "in the Hugging Face cache; pass a local path instead when offline.") from exc
    files = sorted(path.relative_to(snapshot).as_posix() for path in snapshot.rglob("*") if path.is_file())
    matched = list(filter_repo_objects(files, allow_patterns=patterns))
    if not matched:
        raise SourceError(f"Hub dataset {repo_id!r} has no file matching data_files {patterns!r}")
    with tempfile.TemporaryDirectory(prefix="toolcall-hub-") as tmp:
        view = Path(tmp) / repo_id.rsplit("/", 1)[-1]
        for relative in matched:
            (view / relative).parent.mkdir(parents=True, exist_ok=True)
            (view / relative).symlink_to((snapshot / relative).resolve())
        yield view
