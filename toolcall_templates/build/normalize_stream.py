"""The records of a source, normalized in input order: ``(ref, original record, row, error)`` per record, in chunks
that run in worker processes when ``num_proc > 1``. Files that cannot be read at all are listed, not counted."""

from __future__ import annotations

import multiprocessing
import os
from itertools import islice
from typing import Any, Iterable, Iterator

from ..errors import InvalidRecord
from ..normalize import normalize
from ..sources import UnknownOption, check_options, detect_format
from .options import merge_options
from .readers import RawItem
from .source_items import raw_items, source_format
from .spec import SourceSpec

CHUNK_RECORDS = 256


def normalized_records(spec: SourceSpec, strict: bool, num_proc: int, unreadable: list[dict[str, str]] | None = None,
                       ) -> Iterator[tuple[str, Any, dict | None, str | None]]:
    """``(ref, original_record, row, error)`` for every record of the source, in input order; files that could not
    be read at all are appended to ``unreadable`` instead (they are not records)."""
    fmt = source_format(spec)
    items = _records_only(raw_items(spec, fmt), [] if unreadable is None else unreadable)
    chunks = _chunks(items, CHUNK_RECORDS)
    worker = _ChunkWorker(spec.config, fmt, strict, spec.options)
    if num_proc <= 1:
        for chunk in chunks:
            yield from worker(chunk)
        return
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with context.Pool(num_proc) as pool:
        while True:
            window = list(islice(chunks, num_proc * 4))
            if not window:
                break
            for results in pool.imap(worker, window):
                yield from results


def _records_only(items: Iterable[RawItem], unreadable: list[dict[str, str]]) -> Iterator[RawItem]:
    for item in items:
        if item.unreadable_file:
            unreadable.append({"file": item.ref, "reason": item.error or "unreadable"})
        else:
            yield item


def _chunks(items: Iterable[RawItem], size: int) -> Iterator[list[RawItem]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _ChunkWorker:
    """Normalizes a chunk of raw items (picklable, so it runs in worker processes too)."""

    def __init__(self, config: str, fmt: str | None, strict: bool, options: dict[str, Any]):
        self.config, self.fmt, self.strict, self.options = config, fmt, strict, options
        self._file_formats: dict[str, str] = {}

    def __call__(self, chunk: list[RawItem]) -> list[tuple[str, Any, dict | None, str | None]]:
        return [self._one(item) for item in chunk]

    def _one(self, item: RawItem) -> tuple[str, Any, dict | None, str | None]:
        if item.error is not None:
            return item.ref, item.raw, None, item.error
        try:
            fmt = self.fmt or self._file_format(item)
            options = merge_options(item.options, self.options) if item.options else self.options
            if self.fmt is None:
                check_source_options(self.config, fmt, options, detected_in=item.ref)
            row = normalize(item.record, fmt, source=self.config, strict=self.strict, **options)
        except InvalidRecord as exc:
            return item.ref, item.record, None, str(exc)
        row["meta"]["ref"] = item.ref
        return item.ref, item.record, row, None

    def _file_format(self, item: RawItem) -> str:
        """Format of the item's file: detected from the first record of that file that any detector accepts."""
        file_label = item.ref.rsplit(":", 1)[0].rsplit("#", 1)[0]
        if file_label not in self._file_formats:
            self._file_formats[file_label] = detect_format(item.record)
        return self._file_formats[file_label]


def check_source_options(config: str, fmt: str, options: dict[str, Any], detected_in: str | None = None) -> None:
    """``UnknownOption`` naming the source when ``options`` holds one that format ``fmt`` does not take."""
    try:
        check_options(fmt, options)
    except UnknownOption as exc:
        hint = f" (format detected at {detected_in}; give the source's format)" if detected_in else ""
        raise UnknownOption(f"source {config!r}: {exc}{hint}") from None
