"""Rows that are not canonical, normalized on the fly by ``tokenize_dataset`` and ``tokenize_conversation``.

A dataset stored the way canonical rows are (``schema.features()``: messages and tool parameters as JSON texts)
keeps the fast path of ``tokenize``. Any other dataset (``Dataset.from_list(openai_records)``, ``load_dataset("json",
...)`` of ShareGPT files, canonical rows stored without our features) goes through ``normalize`` row by row, with
the format detected per row as ``normalize(record)`` does; the canonical rows it returns are tokenized exactly like
built ones (same ids, same labels), and a row it rejects is dropped as ``invalid_row`` with its reason.

Arrow stores nested Python dicts as structs, and a struct gives every dict every key seen in its column: a tool's
``properties`` get the properties of every other tool, ``null``; a message gets ``tool_calls: null``. A null in a
struct cannot be told from a missing key, so null-valued keys of struct values are dropped before normalizing (as
transformers drops the ``None`` keys of messages); a null that was really there (``"default": null``) goes with them.
``Json()`` values are not padded and keep their nulls. ``tokenize_conversation`` gets a plain dict and cannot know
where it came from: it drops the null-valued keys of a row that is not canonical at every depth (a null anywhere in
its tools, where padding puts them, makes a row not canonical).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InvalidRecord
from ..schema import ROLES
from .conversation_encoder import ConversationEncoder, Outcome
from .row_decoding import column_decoder

logger = logging.getLogger(__name__)

_MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "tool_call_id", "name", "reasoning_content"})
ADVICE = ("normalize the records first: `toolcall build --source NAME=PATH` (or `normalize_batch`), then tokenize "
          "the built dataset")


def has_canonical_storage(features: Mapping[str, Any]) -> bool:
    """Whether ``messages`` is a list of ``Json()`` and ``tools`` (when present) is stored as in ``features()``."""
    from datasets import Json, LargeList, List

    from ..schema import features as canonical_features

    messages = features.get("messages")
    if not (isinstance(messages, (List, LargeList)) and isinstance(messages.feature, Json)):
        return False
    return "tools" not in features or _same_storage(features["tools"], canonical_features()["tools"])


class RawRows:
    """Normalizes the Arrow batches of a dataset that is not stored canonically (picklable for ``num_proc``)."""

    def __init__(self, features: Mapping[str, Any]):
        self.features = dict(features)
        floats = float_fields(features)
        if floats:
            logger.warning("rows are not canonical; Arrow stored the numbers of %s as floats, so an integer there "
                           "(10) reads as 10.0 in the rendered text; %s", ", ".join(floats[:5]), ADVICE)
        if calls_without_tools_column(features):
            logger.warning("the rows' messages hold tool_calls but the dataset has no 'tools' column, so every row is "
                           "tokenized with no tools declared (Dataset.from_list takes its columns from the first "
                           "record only: give every record a 'tools' key, or pass features=); %s", ADVICE)

    def encode(self, encoder: ConversationEncoder, batch: Mapping[str, Any]) -> tuple[list[dict[str, Any]],
                                                                                      list[Outcome]]:
        """``(rows, outcomes)`` of an Arrow batch, in order: the normalized rows tokenized, the others dropped as
        ``invalid_row`` (``rows[i]`` holds the row's ``id``, for the report)."""
        records = self.records(batch)
        rows: list[dict[str, Any]] = []
        failures: dict[int, str] = {}
        for index, record in enumerate(records):
            try:
                rows.append(normalize_record(record))
            except InvalidRecord as exc:
                failures[index] = exc.reason
                rows.append({"id": _record_id(record)})
        normalized = [row for index, row in enumerate(rows) if index not in failures]
        encoded = iter(encoder.encode_rows(normalized))
        outcomes = [Outcome(drop_reason="invalid_row", detail=f"not canonical, and normalize rejected it: "
                                                               f"{failures[index]}")
                    if index in failures else next(encoded) for index in range(len(rows))]
        return rows, outcomes

    def records(self, batch: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The batch's rows as Python dicts: JSON values decoded exactly, null keys of struct values dropped."""
        columns = {name: [column_decoder(self.features[name], drop_none_keys=True)(value)
                          for value in array.to_pylist()] for name, array in batch.items()}
        return [dict(zip(columns, values)) for values in zip(*columns.values())]

    @staticmethod
    def code_version() -> str:
        """Hash of the package's code (normalizers included), for the cache key of a map over raw rows."""
        return _package_digest()


def calls_without_tools_column(features: Mapping[str, Any]) -> bool:
    """Whether the messages are stored with a ``tool_calls`` field while the dataset has no ``tools`` column."""
    message = getattr(features.get("messages"), "feature", None)
    return "tools" not in features and isinstance(message, Mapping) and "tool_calls" in message


def float_fields(features: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Paths of the floating-point fields under struct or list features (where Arrow unifies ``10`` and ``0.5`` of
    one field to ``10.0`` and ``0.5``)."""
    from datasets import LargeList, List, Value

    found = []
    for name, feature in features.items():
        path = f"{prefix}{name}"
        while isinstance(feature, (List, LargeList)):
            feature, path = feature.feature, f"{path}[]"
        if isinstance(feature, dict):
            found += float_fields(feature, f"{path}.")
        elif prefix and isinstance(feature, Value) and feature.dtype.startswith("float"):
            found.append(path)
    return found


def normalize_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical row of a raw record (``normalize`` with the format detected); ``InvalidRecord`` otherwise."""
    from ..normalize import normalize

    return normalize(dict(record))


def as_canonical(row: Any) -> Any:
    """``row`` itself when it is a canonical row, else its normalized form (null-valued keys dropped first);
    ``InvalidRecord`` with the reason and what to do when it cannot be normalized."""
    if is_canonical_row(row):
        return row
    if not isinstance(row, Mapping):
        raise InvalidRecord(f"a row must be a mapping, got {type(row).__name__}")
    try:
        return normalize_record(drop_null_keys(row))
    except InvalidRecord as exc:
        raise InvalidRecord(f"not canonical, and normalize rejected it: {exc.reason} ({ADVICE})") from exc


def is_canonical_row(row: Any) -> bool:
    """Whether ``row`` has the canonical shape (``schema.Row``): messages with only their own keys and string
    content, calls with object arguments, tools without null-valued keys."""
    if not isinstance(row, Mapping):
        return False
    messages, tools = row.get("messages"), row.get("tools")
    if not isinstance(messages, list) or not messages or not all(map(_is_canonical_message, messages)):
        return False
    return tools is None or (isinstance(tools, list) and all(map(_is_canonical_tool, tools)))


def drop_null_keys(value: Any) -> Any:
    """``value`` with every null-valued key of every dict removed, at any depth (list items are kept)."""
    if isinstance(value, Mapping):
        return {key: drop_null_keys(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_null_keys(item) for item in value]
    return value


def refusal(report: Any) -> str | None:
    """The error message when not one raw row of a ``TokenizeReport`` could be normalized, else None."""
    if not report.rows_in or report.dropped.get("invalid_row", 0) != report.rows_in:
        return None
    examples = "; ".join(report.examples.get("invalid_row", [])[:3])
    return f"none of the {report.rows_in} rows is canonical or in a format normalize accepts ({examples}); {ADVICE}"


# -- internals ---------------------------------------------------------------------------------------------------
def _is_canonical_message(message: Any) -> bool:
    if not isinstance(message, dict) or message.get("role") not in ROLES or not isinstance(message.get("content"), str):
        return False
    if not _MESSAGE_KEYS.issuperset(message) or None in message.values():
        return False
    calls = message.get("tool_calls", [])
    return isinstance(calls, list) and all(
        isinstance(call, dict) and isinstance(call.get("function"), dict)
        and isinstance(call["function"].get("name"), str) and isinstance(call["function"].get("arguments"), dict)
        for call in calls)


def _is_canonical_tool(tool: Any) -> bool:
    function = tool.get("function") if isinstance(tool, dict) else None
    return (isinstance(function, dict) and tool.get("type") == "function" and isinstance(function.get("name"), str)
            and isinstance(function.get("parameters"), dict) and not _has_null_key(tool))


def _has_null_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(item is None or _has_null_key(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_null_key(item) for item in value)
    return False


def _same_storage(feature: Any, canonical: Any) -> bool:
    from datasets import Json, LargeList, List

    if isinstance(canonical, Json):
        return isinstance(feature, Json)  # decoded or not, the stored text is the same
    if isinstance(feature, (List, LargeList)) and isinstance(canonical, (List, LargeList)):
        return _same_storage(feature.feature, canonical.feature)
    if isinstance(feature, dict) and isinstance(canonical, dict):
        return feature.keys() == canonical.keys() and all(_same_storage(feature[k], canonical[k]) for k in feature)
    return type(feature) is type(canonical) and feature == canonical


def _record_id(record: Mapping[str, Any]) -> str | None:
    value = record.get("id")
    return value if isinstance(value, str) else None


@lru_cache(maxsize=1)
def _package_digest() -> str:
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]

