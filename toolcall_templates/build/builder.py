"""Build the unified dataset folder: normalize every source, remove duplicates, write shards, card and report.

The folder is written into a temporary sibling and swapped into place at the end (``output_dir``), so a failed
build never leaves a half-written dataset behind, and a rebuild of the same inputs is byte-identical (no timestamps,
stable order). A build that would write no row fails with ``NothingBuilt`` instead.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import InvalidRecord
from ..language import guess_language
from ..normalize import normalize
from ..output_dir import staged_output
from ..sources import UnknownOption, check_options, detect_format
from .card import write_card
from .options import merge_options
from .readers import RawItem, SourceError
from .source_items import local_inputs, raw_items, source_format
from .stats import SourceStats
from .writer import DEFAULT_SHARD_ROWS, ShardWriter

CHUNK_RECORDS = 256


@dataclass
class SourceSpec:
    """One source config of the dataset."""

    config: str
    path: str
    """Local file or folder, or a Hub dataset id (``org/name``)."""
    format: str | None = None
    """Source format; detected per file from its first record when omitted."""
    options: dict[str, Any] = field(default_factory=dict)
    license: str | None = None
    language: str | None = None
    revision: str | None = None
    split: str = "train"
    hub_config: str | None = None
    data_files: Any = None
    description: str = ""
    homepage: str | None = None


@dataclass
class BuildResult:
    """What a build produced."""

    out_dir: Path
    stats: list[SourceStats]

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.out_dir / "build_report.json").read_text(encoding="utf-8"))


class NothingBuilt(RuntimeError):
    """Every source was empty, unreadable, rejected or duplicate: there is no row to write (nothing was written)."""


def build_dataset(
    sources: list[SourceSpec],
    out_dir: str | os.PathLike,
    *,
    strict: bool = False,
    num_proc: int = 1,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    progress: bool = True,
    title: str = "toolcall-unified",
    overwrite: bool = False,
    repo_id: str | None = None,
    protect: Iterable[str | os.PathLike] = (),
) -> BuildResult:
    """Normalize ``sources`` into a Hub-ready folder at ``out_dir``.

    ``out_dir`` is written as ``output_dir.staged_output`` allows: a new or empty folder, or an earlier output of
    ours (replaced atomically, files others added kept); any other folder only with ``overwrite``; never an input
    nor one of the ``protect`` paths (``OutputRefused``). ``NothingBuilt`` when no row results; ``repo_id`` is
    named in the card.
    """
    if not sources:
        raise ValueError("no sources to build")
    configs = [spec.config for spec in sources]
    if len(set(configs)) != len(configs) or "default" in configs:
        raise ValueError(f"config names must be unique and not 'default': {configs}")
    inputs = [*protect, *(path for spec in sources for path in local_inputs(spec))]
    with staged_output(out_dir, command="build", inputs=inputs, overwrite=overwrite) as tmp:
        seen: set[str] = set()
        stats = [
            _build_source(spec, tmp, seen, strict=strict, num_proc=num_proc, shard_rows=shard_rows, progress=progress)
            for spec in sources
        ]
        if not any(s.rows_out for s in stats):
            raise NothingBuilt(_nothing_built(stats))
        _write_report(tmp, stats, strict)
        write_card(tmp, sources, stats, title=title, repo_id=repo_id)
    return BuildResult(Path(out_dir).expanduser().resolve(), stats)


def _nothing_built(stats: list[SourceStats]) -> str:
    records = sum(s.records_in for s in stats)
    unreadable = [u["reason"] for s in stats for u in s.unreadable_files]
    reasons = sum((s.reject_reasons for s in stats), Counter())
    text = f"no rows to write: {records} record(s) read from {len(stats)} source(s)"
    if records:
        text += f", {sum(s.rejected for s in stats)} rejected, {sum(s.duplicates for s in stats)} duplicates"
    if reasons:
        reason, count = reasons.most_common(1)[0]
        text += f" (most common reason, {count}x: {reason})"
    if unreadable:
        text += f"; unreadable: {unreadable[0]}" + (f" and {len(unreadable) - 1} more" if len(unreadable) > 1 else "")
    return text + "; nothing was written"


def _build_source(spec: SourceSpec, root: Path, seen: set[str], *, strict: bool, num_proc: int, shard_rows: int,
                  progress: bool) -> SourceStats:
    fmt = source_format(spec)
    if fmt is not None:
        _check_options(spec.config, fmt, spec.options)
    stats = SourceStats(spec.config, fmt or "auto")
    writer = ShardWriter(root / "data" / spec.config, shard_rows)
    rejects_path = root / "rejects" / f"{spec.config}.jsonl"
    formats_seen: set[str] = set()
    rejects = None
    bar = _progress_bar(spec.config, progress)
    try:
        for ref, record, row, error in _normalized(spec, strict, num_proc, stats.unreadable_files):
            stats.records_in += 1
            bar.update(1)
            if error is not None:
                stats.add_reject(error)
                if rejects is None:
                    rejects_path.parent.mkdir(parents=True, exist_ok=True)
                    rejects = open(rejects_path, "w", encoding="utf-8")
                rejects.write(json.dumps({"ref": ref, "reason": error, "record": record}, ensure_ascii=False) + "\n")
                continue
            if row["id"] in seen:
                stats.duplicates += 1
                continue
            seen.add(row["id"])
            _finish_meta(row, spec)
            formats_seen.add(row["meta"]["format"])
            stats.add_row(row)
            writer.add(row)
    finally:
        bar.close()
        if rejects is not None:
            rejects.close()
    writer.close()
    stats.format = fmt or ",".join(sorted(formats_seen)) or "auto"
    assert stats.balanced(), f"record accounting broken for {spec.config}"
    return stats


def _finish_meta(row: dict, spec: SourceSpec) -> None:
    meta = row["meta"]
    if spec.license:
        meta.setdefault("license", spec.license)
    meta.setdefault("language", spec.language or guess_language(row["messages"]))


def _normalized(spec: SourceSpec, strict: bool, num_proc: int, unreadable: list[dict[str, str]] | None = None,
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
                _check_options(self.config, fmt, options, detected_in=item.ref)
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


def _check_options(config: str, fmt: str, options: dict[str, Any], detected_in: str | None = None) -> None:
    try:
        check_options(fmt, options)
    except UnknownOption as exc:
        hint = f" (format detected at {detected_in}; give the source's format)" if detected_in else ""
        raise UnknownOption(f"source {config!r}: {exc}{hint}") from None


def _progress_bar(config: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(desc=f"normalize {config}", unit=" rec", disable=not enabled, mininterval=0.5, leave=False)


def _write_report(root: Path, stats: list[SourceStats], strict: bool) -> None:
    per_source = [s.to_dict() for s in stats]
    totals = {key: sum(s[key] for s in per_source) for key in
              ("records_in", "rows_out", "rejected", "duplicates_removed", "rows_with_warnings", "warnings",
               "assistant_turns", "tool_calls")}
    totals["unreadable_files"] = sum(len(s.unreadable_files) for s in stats)
    report = {
        "strict": strict,
        "invariant": "records_in == rows_out + rejected + duplicates_removed",
        "invariant_holds": all(s.balanced() for s in stats),
        "totals": totals,
        "sources": per_source,
    }
    (root / "build_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def spec_from_cli(value: str, formats: dict[str, str], **defaults: Any) -> SourceSpec:
    """Parse a ``CONFIG=PATH`` command-line value into a SourceSpec."""
    config, sep, path = value.partition("=")
    if not sep or not config or not path:
        raise SourceError(f"--source expects CONFIG=PATH, got {value!r}")
    return SourceSpec(config=config, path=path, format=formats.get(config), **defaults)

