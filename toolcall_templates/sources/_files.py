"""Read the records of one JSON / JSON-lines file for the ``iter_records`` of container formats (BFCL, ToolAlpaca).

A file is a JSON array, a single JSON object, or JSON lines (whatever its suffix: BFCL names JSON-lines files
``.json``). A line or document that cannot be decoded does not abort the build: it is yielded as an *unreadable
marker* record, which the format's ``to_row`` turns into an ``InvalidRecord`` naming the file, line and reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidRecord

UNREADABLE_KEY = "__unreadable__"


def read_records(path: Path) -> Iterator[Any]:
    """Every record of ``path`` in file order (non-dict items are yielded as they are: ``to_row`` rejects them)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidRecord(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        yield {UNREADABLE_KEY: f"{path.name}: not valid UTF-8 ({exc.reason} at byte {exc.start})"}
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        yield from _json_lines(text, path.name)
        return
    yield from document if isinstance(document, list) else [document]


def _json_lines(text: str, label: str) -> Iterator[Any]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            yield {UNREADABLE_KEY: f"{label}:{number}: line is not valid JSON ({exc.msg} at column {exc.colno})"}


def check_readable(record: dict) -> None:
    """Raise the reason stored in an unreadable marker record."""
    if UNREADABLE_KEY in record:
        raise InvalidRecord(str(record[UNREADABLE_KEY]))


def record_files(folder: Path) -> list[Path]:
    """The ``.json`` / ``.jsonl`` files directly inside ``folder``, sorted by name (hidden files skipped)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix in (".json", ".jsonl") and not p.name.startswith("."))
