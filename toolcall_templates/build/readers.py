"""Read source records from local files, folders, or Hub dataset ids, without ever aborting on one bad record.

Every item read is a ``RawItem``: a reference (``file:line`` or ``file#index``) plus either the decoded record or the
reason it could not be decoded (bad JSON line, wrong encoding). Unreadable source paths raise ``SourceError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..sources._files import broken_document, is_json_lines, json_error_text

RECORD_SUFFIXES = (".jsonl", ".json", ".parquet", ".ndjson")
SKIPPED_NAMES = {"dataset_info.json"}


class SourceError(RuntimeError):
    """A source path that cannot be read at all (missing, unreadable, Hub unreachable)."""


@dataclass
class RawItem:
    """One record as read from a source, or the reason it could not be read."""

    ref: str
    record: Any = None
    error: str | None = None
    raw: str | None = None
    """The undecodable text, kept for the rejects file."""
    options: dict[str, Any] | None = None
    """Format options that come with the file (its LLaMA-Factory ``dataset_info.json`` entry)."""
    unreadable_file: bool = False
    """``error`` is about the whole file (neither a JSON document nor JSON lines): it is not a record."""


def looks_like_hub_id(spec: str) -> bool:
    """``org/name`` that is not a local path."""
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not Path(spec).exists() and not spec.startswith((".", "~"))


def iter_path(path: Path) -> Iterator[RawItem]:
    """Records of a local file, or of every record file below a folder (sorted, recursive)."""
    if not path.exists():
        raise SourceError(f"source path {str(path)!r} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _is_record_file(p))
        if not files:
            raise SourceError(f"source folder {str(path)!r} holds no {', '.join(RECORD_SUFFIXES)} files")
        for file in files:
            yield from iter_file(file, label=str(file.relative_to(path)))
        return
    yield from iter_file(path)


def _is_record_file(path: Path) -> bool:
    return path.suffix in RECORD_SUFFIXES and path.name not in SKIPPED_NAMES and not path.name.startswith(".")


def iter_file(path: Path, label: str | None = None) -> Iterator[RawItem]:
    """Records of one file: a JSON array, a single JSON object, JSON lines (any suffix), or parquet."""
    label = label or path.name
    if path.suffix == ".parquet":
        yield from _iter_parquet(path, label)
        return
    if path.suffix != ".json":
        yield from _iter_json_lines(_open_lines(path), label)
        return
    try:
        data = path.read_bytes()  # a JSON document must be parsed whole
    except OSError as exc:
        raise SourceError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if is_json_lines(data.decode("utf-8-sig", errors="replace")):  # bad bytes on some lines
            yield from _iter_json_lines(iter(data.split(b"\n")), label)
        else:
            yield RawItem(label, error=f"{label}: not valid UTF-8 ({exc.reason} at byte {exc.start}); no record of "
                                       "it was read", unreadable_file=True)
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if is_json_lines(text):  # JSON lines in a .json file (BFCL)
            yield from _iter_json_lines(iter(data.split(b"\n")), label)
        else:
            yield RawItem(label, error=broken_document(label, exc), unreadable_file=True)
        return
    items = document if isinstance(document, list) else [document]
    for index, record in enumerate(items):
        yield RawItem(f"{label}#{index}", record)


def _open_lines(path: Path) -> Iterator[bytes]:
    """Stream the lines of a file, so JSON-lines sources of any size use bounded memory."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise SourceError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    with handle:
        yield from handle


def _iter_json_lines(lines: Iterator[bytes], label: str) -> Iterator[RawItem]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        ref = f"{label}:{number}"
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield RawItem(ref, error=f"line is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                          raw=line.decode("utf-8", errors="replace"))
            continue
        try:
            yield RawItem(ref, json.loads(text))
        except json.JSONDecodeError as exc:
            yield RawItem(ref, error=f"line is not valid JSON ({json_error_text(exc)})", raw=text)


def _iter_parquet(path: Path, label: str) -> Iterator[RawItem]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable files
        raise SourceError(f"cannot read parquet file {str(path)!r}: {exc}") from exc
    index = 0
    for batch in parquet.iter_batches(batch_size=2048):
        for record in batch.to_pylist():
            yield RawItem(f"{label}#{index}", record)
            index += 1


def iter_hub(repo_id: str, *, name: str | None = None, split: str = "train", revision: str | None = None,
             data_files: Any = None) -> Iterator[RawItem]:
    """Stream a Hub dataset with ``datasets.load_dataset(..., streaming=True)``; a clear error when offline."""
    try:
        from datasets import load_dataset

        dataset = load_dataset(repo_id, name, split=split, revision=revision, data_files=data_files, streaming=True)
        iterator = iter(dataset)
        first = next(iterator, None)
    except Exception as exc:  # network, auth, missing repo: all mean "cannot load this source"
        raise SourceError(
            f"cannot load Hub dataset {repo_id!r} (split {split!r}): {type(exc).__name__}: {exc}. "
            "Loading from the Hub needs network access (and HF_HUB_OFFLINE unset); download the files and pass a "
            "local path instead when offline."
        ) from exc
    if first is None:
        return
    yield RawItem(f"{repo_id}#0", first)
    for index, record in enumerate(iterator, start=1):
        yield RawItem(f"{repo_id}#{index}", record)
