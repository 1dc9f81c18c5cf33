"""Find and join the files of a BFCL data folder: questions, ``possible_answer`` (by ``id``) and the multi-turn
function docs (``multi_turn_func_doc/<class file>``, selected by ``involved_classes`` minus ``excluded_function``).

Accepted layouts: a folder with ``question/`` + ``possible_answer/`` + ``multi_turn_func_doc/`` (the shared sample),
the upstream ``bfcl_eval/data/`` folder (``BFCL_v4_*.json`` at the top next to ``possible_answer/`` and
``multi_turn_func_doc/``), or one question file (its answers and docs are looked up next to it or one level up).
Files that cannot be found are simply not joined; ``to_row`` then names what is missing.
``is_bfcl_data`` recognizes these layouts, so that a build reads them as one BFCL source without ``--format``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidRecord
from ._files import is_unreadable, read_records, record_files

ANSWER_DIR = "possible_answer"
DOC_DIR = "multi_turn_func_doc"
QUESTION_DIR = "question"
_QUESTION_FILE = re.compile(r"^BFCL_v\d+_\w+\.jsonl?$")

# BFCL's MULTI_TURN_FUNC_DOC_FILE_MAPPING: involved class name -> function doc file.
CLASS_DOC_FILES: dict[str, str] = {
    "GorillaFileSystem": "gorilla_file_system.json",
    "MathAPI": "math_api.json",
    "MessageAPI": "message_api.json",
    "TwitterAPI": "posting_api.json",
    "TicketAPI": "ticket_api.json",
    "TradingBot": "trading_bot.json",
    "TravelAPI": "travel_booking.json",
    "VehicleControlAPI": "vehicle_control.json",
    "WebSearchAPI": "web_search.json",
    "MemoryAPI_kv": "memory_kv.json",
    "MemoryAPI_vector": "memory_vector.json",
    "MemoryAPI_rec_sum": "memory_rec_sum.json",
}


def is_bfcl_data(path: Path) -> bool:
    """Whether ``path`` is a BFCL data folder (``question/`` + ``possible_answer/``, or ``BFCL_v*_*.json`` question
    files next to ``possible_answer/``) or one BFCL question file, so that it is read as one BFCL source."""
    if path.is_dir():
        if not (path / ANSWER_DIR).is_dir():
            return False
        if (path / QUESTION_DIR).is_dir():
            return True
        return any(_QUESTION_FILE.match(file.name) for file in record_files(path))
    return (path.is_file() and _QUESTION_FILE.match(path.name) is not None
            and path.parent.name not in (ANSWER_DIR, DOC_DIR))


def iter_bfcl_records(path: Path) -> Iterator[Any]:
    """Question records of ``path`` (folder or file) with ``ground_truth`` and multi-turn ``function`` attached."""
    if path.is_dir():
        question_dir = path / QUESTION_DIR if (path / QUESTION_DIR).is_dir() else path
        files = record_files(question_dir)
        bfcl_named = [f for f in files if f.name.startswith("BFCL_")]
        files = bfcl_named or files
        if not files:
            raise InvalidRecord(f"BFCL folder {str(path)!r} holds no question files")
        answer_dir, doc_dir = _existing(path / ANSWER_DIR), _existing(path / DOC_DIR)
    else:
        files = [path]
        answer_dir = _first_existing(path.parent / ANSWER_DIR, path.parent.parent / ANSWER_DIR)
        doc_dir = _first_existing(path.parent / DOC_DIR, path.parent.parent / DOC_DIR)
    docs = _DocLibrary(doc_dir)
    for file in files:
        answers = _answers_by_id(answer_dir / file.name) if answer_dir and (answer_dir / file.name).is_file() else {}
        for record in read_records(file):
            yield _joined(record, answers, docs)


def _joined(record: Any, answers: dict[str, Any], docs: _DocLibrary) -> Any:
    if not isinstance(record, dict) or is_unreadable(record):
        return record
    record = dict(record)
    key = record.get("id")
    if "ground_truth" not in record and isinstance(key, str) and key in answers:
        record["ground_truth"] = answers[key]
    classes = record.get("involved_classes")
    if "function" not in record and isinstance(classes, list) and docs.folder is not None:
        excluded = set(record.get("excluded_function") or [])
        functions = docs.functions(classes)
        if functions is not None:
            record["function"] = [f for f in functions if not (isinstance(f, dict) and f.get("name") in excluded)]
    return record


def _answers_by_id(path: Path) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for record in read_records(path):
        if isinstance(record, dict) and isinstance(record.get("id"), str) and "ground_truth" in record:
            answers[record["id"]] = record["ground_truth"]
    return answers


class _DocLibrary:
    """Function docs per involved class, read once per file."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self._cache: dict[str, list[Any] | None] = {}

    def functions(self, classes: list[Any]) -> list[Any] | None:
        """All functions of the classes in order, or None when a class's doc file is unknown or missing."""
        out: list[Any] = []
        for name in classes:
            docs = self._load(name) if isinstance(name, str) else None
            if docs is None:
                return None
            out.extend(docs)
        return out

    def _load(self, class_name: str) -> list[Any] | None:
        if class_name not in self._cache:
            file_name = CLASS_DOC_FILES.get(class_name)
            path = self.folder / file_name if self.folder and file_name else None
            docs = None
            if path is not None and path.is_file():
                docs = list(read_records(path))
                if not all(isinstance(doc, dict) and not is_unreadable(doc) for doc in docs):
                    docs = None
            self._cache[class_name] = docs
        return self._cache[class_name]


def _existing(path: Path) -> Path | None:
    return path if path.is_dir() else None


def _first_existing(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_dir()), None)
