"""Public normalization API: one record in, one canonical row out."""

from __future__ import annotations

from typing import Any, Iterable

from .errors import InvalidRecord
from .schema import Row
from .sources import UnknownOption, check_options, detect_format, get_format


def normalize(
    record: Any, fmt: str | None = None, *, source: str | None = None, strict: bool = False, **options: Any
) -> Row:
    """Normalize one source record into a canonical row.

    Args:
        record: the source record (a dict as read from JSON / JSONL / a dataset row).
        fmt: source format name; auto-detected with ``detect_format`` when omitted.
        source: the config name stored in ``row["source"]`` (defaults to the format name).
        strict: reject rows whose calls are undeclared or violate the tool schema instead of warning.
        options: format-specific options (e.g. ShareGPT ``tags``/``columns`` from a LLaMA-Factory dataset_info entry).

    Raises:
        InvalidRecord: the record cannot be normalized; the message names the reason.
        UnknownOption: an option the format does not take (a TypeError and a ValueError, naming the accepted ones).
    """
    name = fmt or detect_format(record)
    module = get_format(name)
    check_options(name, options)
    if not isinstance(record, dict):
        raise InvalidRecord(f"a record must be a JSON object, got {type(record).__name__}")
    try:
        row = module.to_row(record, source=source or name, strict=strict, options=options)
    except (InvalidRecord, UnknownOption):
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise InvalidRecord(f"malformed {name} record: {type(exc).__name__}: {exc}") from exc
    row["meta"].setdefault("format", name)
    return row


def normalize_batch(
    batch: dict[str, list[Any]], fmt: str | None = None, *, source: str | None = None, strict: bool = False,
    **options: Any,
) -> dict[str, list[Any]]:
    """Batched form for ``datasets.map(batched=True, num_proc=N)`` and streaming ``IterableDataset.map``.

    Takes a batch of source columns and returns the canonical columns plus ``error``, one output row per input row:
    a rejected record has ``error`` set to the reason and empty canonical fields, so nothing is lost and callers can
    count or filter (``ds.filter(lambda r: r["error"] is None)``). Pass ``remove_columns`` to drop the source columns.
    """
    keys = list(batch)
    size = len(batch[keys[0]]) if keys else 0
    out: dict[str, list[Any]] = {k: [] for k in ("id", "source", "tools", "messages", "meta", "warnings", "error")}
    for i in range(size):
        record = {k: batch[k][i] for k in keys}
        try:
            row = normalize(record, fmt, source=source, strict=strict, **options)
        except InvalidRecord as exc:
            for k in ("id", "source", "tools", "messages", "meta", "warnings"):
                out[k].append(None if k not in ("tools", "messages", "warnings") else [])
            out["error"].append(str(exc))
            continue
        for k, v in row.items():
            out[k].append(v)
        out["error"].append(None)
    return out


def normalize_records(
    records: Iterable[Any], fmt: str | None = None, *, source: str | None = None, strict: bool = False,
    **options: Any,
) -> Iterable[tuple[Any, Row | None, str | None]]:
    """Stream ``(record, row, error)`` triples: exactly one of ``row`` / ``error`` is set for every record."""
    for record in records:
        try:
            yield record, normalize(record, fmt, source=source, strict=strict, **options), None
        except InvalidRecord as exc:
            yield record, None, str(exc)
