"""Publish a built dataset folder to the Hugging Face Hub as a dataset repository.

Uploaded: the card (with its ``load_dataset`` examples naming the target repository), ``build_report.json``, the
parquet shards and the card's plots (``images/``); the removed rows (``rejects/``: original records that could not be
normalized, ``contaminated/`` and ``near_duplicates/``: rows removed as matching an evaluation set or an earlier row)
only when asked for. In a folder
written by ``toolcall build`` only the files that build wrote are uploaded (its ``.toolcall-output.json``).
"""

from __future__ import annotations

from pathlib import Path

from ..output_dir import manifest_files
from .card import card_for_repo

UPLOAD_PATTERNS = ("README.md", "build_report.json", "data/**/*.parquet", "images/*.png")
REJECT_PATTERNS = ("rejects/*.jsonl", "contaminated/*.jsonl", "near_duplicates/*.jsonl")


def files_to_upload(folder: str | Path, *, include_rejects: bool = False) -> list[tuple[str, int]]:
    """``(relative_path, size_in_bytes)`` of every file a push would upload, sorted."""
    root = Path(folder)
    if not (root / "README.md").is_file() or not (root / "data").is_dir():
        raise FileNotFoundError(f"{root} is not a built dataset folder (README.md and data/ are missing)")
    patterns = UPLOAD_PATTERNS + (REJECT_PATTERNS if include_rejects else ())
    written = manifest_files(root)
    files = {path for pattern in patterns for path in root.glob(pattern) if path.is_file()
             and (written is None or path.relative_to(root).as_posix() in written)}
    return sorted((path.relative_to(root).as_posix(), path.stat().st_size) for path in files)


def card_text(folder: str | Path, repo_id: str) -> str:
    """The card as it is uploaded: the folder's ``README.md`` with ``repo_id`` in its examples."""
    return card_for_repo((Path(folder) / "README.md").read_text(encoding="utf-8"), repo_id)


def push_dataset(folder: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
                 include_rejects: bool = False, commit_message: str = "Upload tool-calling dataset",
                 token: str | None = None) -> str:
    """Create (if needed) the dataset repo and upload the folder; returns the commit URL. The token is never printed."""
    from huggingface_hub import CommitOperationAdd, HfApi

    root = Path(folder)
    files = files_to_upload(root, include_rejects=include_rejects)
    operations = [
        CommitOperationAdd(path_in_repo=path, path_or_fileobj=(
            card_text(root, repo_id).encode("utf-8") if path == "README.md" else str(root / path)))
        for path, _ in files
    ]
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.create_commit(repo_id=repo_id, repo_type="dataset", operations=operations, revision=revision,
                             commit_message=commit_message)
    return str(getattr(info, "commit_url", info))
