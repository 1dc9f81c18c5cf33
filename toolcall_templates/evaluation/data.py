"""The rows to evaluate: one split of a dataset folder or Hub dataset, or a file of records.

A folder written by ``toolcall build`` (or any dataset folder ``load_dataset`` reads: its card's configs, or
``data/<config>/<split>-*.parquet``) and a Hub dataset id are read with ``datasets.load_dataset(path, config,
split=split)``: the split must be one of the dataset's (a held-out ``test`` split exists when the build made one).
A ``.json`` / ``.jsonl`` / ``.parquet`` file is read record by record as ``toolcall build`` reads it (it has no
splits). Rows that are not canonical are normalized by the turn selection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..build.readers import RECORD_SUFFIXES, looks_like_hub_id
from .turns import UnreadableRecord


class DatasetUnavailable(ValueError):
    """The dataset, config or split cannot be read; the message names what exists."""


def load_rows(source: str, config: str | None = None, split: str = "test") -> tuple[Any, dict[str, Any]]:
    """``(rows, facts for the report)``: an iterable of row mappings and ``{"dataset", "config", "split"}``."""
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix not in RECORD_SUFFIXES:
            raise DatasetUnavailable(f"{path} is not a dataset file ({', '.join(RECORD_SUFFIXES)}) or folder")
        if config:
            raise DatasetUnavailable(f"--config applies to a dataset folder or Hub id, not to the file {path}")
        return _file_rows(path), {"dataset": str(path), "config": None, "split": None}
    if not path.exists() and not looks_like_hub_id(source):
        raise DatasetUnavailable(f"{source} is neither a dataset folder or file nor a Hub dataset id (ORG/NAME)")
    dataset = _load_split(str(path) if path.exists() else source, config, split)
    return dataset, {"dataset": source, "config": config or dataset.info.config_name, "split": split}


def _load_split(source: str, config: str | None, split: str) -> Any:
    import datasets

    try:
        splits = datasets.get_dataset_split_names(source, config)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types for a missing config or unreadable folder
        raise DatasetUnavailable(f"cannot read {source}" + (f" config {config!r}" if config else "") +
                                 f": {_first_line(exc)}") from None
    if split not in splits:
        raise DatasetUnavailable(
            f"{source}" + (f" config {config!r}" if config else "") + f" has no split {split!r} (it has: "
            f"{', '.join(splits)}); `toolcall build --test-fraction F` holds out a test split (by row id hash), "
            f"or pass --split with one of those")
    return datasets.load_dataset(source, config, split=split)


def _file_rows(path: Path) -> Iterator[Any]:
    """The file's records; a record that cannot be decoded comes as an :class:`UnreadableRecord` (counted, not
    evaluated)."""
    from ..build.readers import iter_file

    for item in iter_file(path):
        yield item.record if item.error is None else UnreadableRecord(f"{item.ref}: {item.error}")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]
