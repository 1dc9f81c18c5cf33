"""Publish a built dataset folder to the Hugging Face Hub as a dataset repository."""

from __future__ import annotations

from pathlib import Path

UPLOAD_PATTERNS = ("README.md", "build_report.json", "data/**/*.parquet", "rejects/*.jsonl")


def files_to_upload(folder: str | Path) -> list[tuple[str, int]]:
    """``(relative_path, size_in_bytes)`` of every file a push would upload, sorted."""
    root = Path(folder)
    if not (root / "README.md").is_file() or not (root / "data").is_dir():
        raise FileNotFoundError(f"{root} is not a built dataset folder (README.md and data/ are missing)")
    files = {path for pattern in UPLOAD_PATTERNS for path in root.glob(pattern) if path.is_file()}
    return sorted((str(path.relative_to(root)), path.stat().st_size) for path in files)


def push_dataset(folder: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
                 commit_message: str = "Upload toolcall-unified dataset", token: str | None = None) -> str:
    """Create (if needed) the dataset repo and upload the folder; returns the commit URL. The token is never printed."""
    from huggingface_hub import HfApi

    files_to_upload(folder)
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset", revision=revision,
                             allow_patterns=list(UPLOAD_PATTERNS), commit_message=commit_message)
    return str(getattr(info, "commit_url", info))
