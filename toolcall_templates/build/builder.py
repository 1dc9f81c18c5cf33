"""Build the unified dataset folder: normalize every source, remove duplicates, write shards, card and report.

The folder is written into a temporary sibling and renamed into place at the end, so a failed build never leaves a
half-written dataset behind, and a rebuild of the same inputs is byte-identical (no timestamps, stable order).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import InvalidRecord
from ..language import guess_language
from ..normalize import normalize
from ..sources import detect_format, get_format
from .card import write_card
from .readers import RawItem, SourceError, iter_hub, iter_path, looks_like_hub_id
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


def build_dataset(
    sources: list[SourceSpec],
    out_dir: str | os.PathLike,
    *,
    strict: bool = False,
    num_proc: int = 1,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    progress: bool = True,
    title: str = "toolcall-unified",
) -> BuildResult:
    """Normalize ``sources`` into a Hub-ready folder at ``out_dir`` (replaced atomically)."""
    if not sources:
        raise ValueError("no sources to build")
    configs = [spec.config for spec in sources]
    if len(set(configs)) != len(configs) or "default" in configs:
        raise ValueError(f"config names must be unique and not 'default': {configs}")
    out = Path(out_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        seen: set[str] = set()
        stats = [
            _build_source(spec, tmp, seen, strict=strict, num_proc=num_proc, shard_rows=shard_rows, progress=progress)
            for spec in sources
        ]
        _write_report(tmp, stats, strict)
        write_card(tmp, sources, stats, title=title)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(out, stats)


def _build_source(spec: SourceSpec, root: Path, seen: set[str], *, strict: bool, num_proc: int, shard_rows: int,
                  progress: bool) -> SourceStats:
    stats = SourceStats(spec.config, spec.format or "auto")
    writer = ShardWriter(root / "data" / spec.config, shard_rows)
    rejects_path = root / "rejects" / f"{spec.config}.jsonl"
    formats_seen: set[str] = set()
    rejects = None
    bar = _progress_bar(spec.config, progress)
    try:
        for ref, record, row, error in _normalized(spec, strict, num_proc):
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
    stats.format = spec.format or ",".join(sorted(formats_seen)) or "auto"
    assert stats.balanced(), f"record accounting broken for {spec.config}"
    return stats


def _finish_meta(row: dict, spec: SourceSpec) -> None:
    meta = row["meta"]
    if spec.license:
        meta.setdefault("license", spec.license)
    meta.setdefault("language", spec.language or guess_language(row["messages"]))


def _normalized(spec: SourceSpec, strict: bool, num_proc: int) -> Iterator[tuple[str, Any, dict | None, str | None]]:
    """``(ref, original_record, row, error)`` for every record of the source, in input order."""
    items = _raw_items(spec)
    chunks = _chunks(items, CHUNK_RECORDS)
    worker = _ChunkWorker(spec.config, spec.format, strict, spec.options)
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


def _raw_items(spec: SourceSpec) -> Iterator[RawItem]:
    module = get_format(spec.format) if spec.format else None
    local = Path(spec.path).expanduser()
    if module is not None and hasattr(module, "iter_records") and local.exists():
        for index, record in enumerate(module.iter_records(local)):
            yield RawItem(f"{local.name}#{index}", record)
        return
    if local.exists() or not looks_like_hub_id(spec.path):
        yield from iter_path(local)
        return
    yield from iter_hub(spec.path, name=spec.hub_config, split=spec.split, revision=spec.revision,
                        data_files=spec.data_files)


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
            options = {**item.options, **self.options} if item.options else self.options
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


def _progress_bar(config: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(desc=f"normalize {config}", unit=" rec", disable=not enabled, mininterval=0.5, leave=False)


def _write_report(root: Path, stats: list[SourceStats], strict: bool) -> None:
    per_source = [s.to_dict() for s in stats]
    totals = {key: sum(s[key] for s in per_source) for key in
              ("records_in", "rows_out", "rejected", "duplicates_removed", "rows_with_warnings", "warnings",
               "assistant_turns", "tool_calls")}
    report = {
        "strict": strict,
        "invariant": "records_in == rows_out + rejected + duplicates_removed",
        "invariant_holds": all(s.balanced() for s in stats),
        "totals": totals,
        "sources": per_source,
    }
    (root / "build_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished folder into place; the previous build is removed only after the rename succeeded."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def spec_from_cli(value: str, formats: dict[str, str], **defaults: Any) -> SourceSpec:
    """Parse a ``CONFIG=PATH`` command-line value into a SourceSpec."""
    config, sep, path = value.partition("=")
    if not sep or not config or not path:
        raise SourceError(f"--source expects CONFIG=PATH, got {value!r}")
    return SourceSpec(config=config, path=path, format=formats.get(config), **defaults)

