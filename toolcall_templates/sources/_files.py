"""Read the records of one JSON / JSON-lines file for the ``iter_records`` of container formats (BFCL, ToolAlpaca).

A file is a JSON array, a single JSON object, or JSON lines (whatever its suffix: BFCL names JSON-lines files
``.json``). A line that cannot be decoded does not abort the build: it is yielded as an *unreadable marker* record,
which the format's ``to_row`` turns into an ``InvalidRecord`` naming the file, line and reason. A file that is
neither one JSON document nor JSON lines (a truncated array) is one *unreadable file* marker: it is a file-level
error naming the file and where it breaks, never counted as a record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidRecord

UNREADABLE_KEY = "__unreadable__"
UNREADABLE_FILE_KEY = "__unreadable_file__"


def json_error_text(exc: json.JSONDecodeError, *, line: bool = False) -> str:
    """``"Expecting ',' delimiter at line 3 column 9"``: the decoder's message with its position (the message
    "Unterminated string starting at" already ends in "at")."""
    where = f"line {exc.lineno} column {exc.colno}" if line else f"column {exc.colno}"
    return f"{exc.msg.removesuffix(' at')} at {where}"


def is_json_lines(text: str) -> bool:
    """Whether a text that failed to parse as one JSON document is JSON lines: one of its first two non-empty
    lines is a JSON object on its own (a truncated or broken document has no such line)."""
    checked = 0
    for line in text.split("\n", 64):
        if not line.strip():
            continue
        try:
            if isinstance(json.loads(line), dict):
                return True
        except json.JSONDecodeError:
            pass
        checked += 1
        if checked == 2:
            break
    return False


def broken_document(label: str, exc: json.JSONDecodeError) -> str:
    """The file-level reason for a file that is neither a JSON document nor JSON lines."""
    return f"{label}: not valid JSON ({json_error_text(exc, line=True)}) and not JSON lines; no record of it was read"


def read_records(path: Path) -> Iterator[Any]:
    """Every record of ``path`` in file order (non-dict items are yielded as they are: ``to_row`` rejects them)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidRecord(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        yield {UNREADABLE_FILE_KEY: f"{path.name}: not valid UTF-8 ({exc.reason} at byte {exc.start}); no record of it was read"}
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if is_json_lines(text):
            yield from _json_lines(text, path.name)
        else:
            yield {UNREADABLE_FILE_KEY: broken_document(path.name, exc)}
        return
    yield from document if isinstance(document, list) else [document]


def _json_lines(text: str, label: str) -> Iterator[Any]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            yield {UNREADABLE_KEY: f"{label}:{number}: line is not valid JSON ({json_error_text(exc)})"}


def is_unreadable(record: Any) -> bool:
    """Whether a record is an unreadable marker (a line or a whole file)."""
    return isinstance(record, dict) and (UNREADABLE_KEY in record or UNREADABLE_FILE_KEY in record)


def check_readable(record: dict) -> None:
    """Raise the reason stored in an unreadable marker record (a line, or a whole file)."""
    for key in (UNREADABLE_KEY, UNREADABLE_FILE_KEY):
        if key in record:
            raise InvalidRecord(str(record[key]))


def record_files(folder: Path) -> list[Path]:
    """The ``.json`` / ``.jsonl`` files directly inside ``folder``, sorted by name (hidden files skipped)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix in (".json", ".jsonl") and not p.name.startswith("."))
