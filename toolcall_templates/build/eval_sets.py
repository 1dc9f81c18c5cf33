"""The user turns of an evaluation set, whatever its shape, for decontamination.

An evaluation set is read like a build source (``source_items.raw_items``): a local file or folder of records (a
BFCL data folder or question file, a LLaMA-Factory folder, JSON / JSON lines / parquet), a ``.txt`` file (one item
per non-empty line), or a Hub dataset id (its files downloaded, ``hub_files``). From each record the user turns are
taken: a ``question`` field (BFCL's list of turns of ``{role, content}`` messages, or a string), else the user turns of
the record normalized by its format, else the first of the text fields ``query``, ``instruction``, ``prompt``,
``input``, ``text``. A record that yields no user text is counted, never silently passed over.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidRecord
from ..normalize import normalize
from .hub_files import dataset_files
from .readers import SourceError, looks_like_hub_id
from .source_items import raw_items, source_format
from .spec import SourceSpec
from .text_keys import user_texts

TEXT_KEYS = ("query", "instruction", "prompt", "input", "text")


@dataclass
class EvalItem:
    """One evaluation record: where it is, and its user turns (empty when none could be found)."""

    ref: str
    texts: list[str]


def eval_items(spec: SourceSpec) -> Iterator[EvalItem]:
    """Every record of the evaluation set ``spec``, in a stable order. ``SourceError`` when it cannot be read."""
    local = Path(spec.path).expanduser()
    if not local.exists() and looks_like_hub_id(spec.path):
        with dataset_files(spec.path, revision=spec.revision, data_files=spec.data_files) as folder:
            yield from eval_items(dataclasses.replace(spec, path=str(folder), data_files=None))
        return
    if local.is_file() and local.suffix == ".txt":
        yield from _text_lines(local)
        return
    fmt = source_format(spec)
    for item in raw_items(spec, fmt):
        if item.error is not None:
            yield EvalItem(item.ref, [])
            continue
        yield EvalItem(_item_ref(item.ref, item.record), record_texts(item.record, fmt, spec.options))


def _text_lines(path: Path) -> Iterator[EvalItem]:
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield EvalItem(f"{path.name}:{number}", [line.strip()])


def _item_ref(ref: str, record: Any) -> str:
    record_id = record.get("id") if isinstance(record, dict) else None
    return f"{ref} ({record_id})" if isinstance(record_id, (str, int)) and not isinstance(record_id, bool) else ref


def record_texts(record: Any, fmt: str | None = None, options: dict[str, Any] | None = None) -> list[str]:
    """The user turns of one evaluation record (see the module docstring); empty when it has none."""
    if isinstance(record, str):
        return [record] if record.strip() else []
    if not isinstance(record, dict):
        return []
    question = record.get("question")
    if question is not None and not isinstance(question, str):
        texts = _user_contents(question)
        if texts:
            return texts
    try:
        texts = user_texts(normalize(record, fmt, **(options or {})))
    except (InvalidRecord, TypeError, ValueError):
        texts = []
    if texts:
        return texts
    for key in ("question", *TEXT_KEYS):
        if isinstance(record.get(key), str) and record[key].strip():
            return [record[key]]
    return []


def _user_contents(value: Any) -> list[str]:
    """User texts of BFCL's ``question``: turns of messages, nested lists of them, or bare strings."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, dict):
        content = value.get("content")
        return [content] if value.get("role") == "user" and isinstance(content, str) and content.strip() else []
    if isinstance(value, list):
        return [text for part in value for text in _user_contents(part)]
    return []
