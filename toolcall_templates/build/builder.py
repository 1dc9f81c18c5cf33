"""Build the unified dataset folder: normalize every source, remove duplicates and contaminated rows, split, mix,
and write shards, plots, card and report.

The folder is written into a temporary sibling and swapped into place at the end (``output_dir``), so a failed
build never leaves a half-written dataset behind, and a rebuild of the same inputs is byte-identical (no timestamps,
stable order). A build that would write no row fails with ``NothingBuilt`` instead.

Eval configs are built first (their rows join the decontamination index), then the training configs, each in
recipe order; reports and the card list them in recipe order.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..language import guess_language
from ..output_dir import staged_output
from .card import write_card
from .curation import Curation
from .mix import needs_mix, write_mix
from .normalize_stream import check_source_options, normalized_records
from .plots import write_plots
from .readers import SourceError
from .report import build_report, write_report
from .settings import BuildSettings
from .source_items import local_inputs, source_format
from .spec import SourceSpec
from .stats import SourceStats
from .token_sample import load_reference_tokenizer, sample_token_counts
from .writer import DEFAULT_SHARD_ROWS, ShardWriter

_normalized = normalized_records  # the name tests/test_official_template_feed.py imports
REMOVED_FOLDERS = {"contaminated": "contaminated", "near_duplicate": "near_duplicates"}
"""Removed rows that are written, by outcome: ``<folder>/<config>.jsonl`` (rejected records go to ``rejects/``)."""


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
    settings: BuildSettings | None = None,
) -> BuildResult:
    """Normalize ``sources`` into a Hub-ready folder at ``out_dir``.

    ``out_dir`` is written as ``output_dir.staged_output`` allows: a new or empty folder, or an earlier output of
    ours (replaced atomically, files others added kept); any other folder only with ``overwrite``; never an input
    nor one of the ``protect`` paths (``OutputRefused``). ``NothingBuilt`` when no row results; ``repo_id`` is
    named in the card. ``settings``: decontamination, near duplicates, the test split and the plots (defaults:
    near duplicates reported, no test split, decontamination against the eval configs only).
    """
    if not sources:
        raise ValueError("no sources to build")
    configs = [spec.config for spec in sources]
    if len(set(configs)) != len(configs) or "default" in configs:
        raise ValueError(f"config names must be unique and not 'default': {configs}")
    settings = settings or BuildSettings()
    settings.check()
    for spec in sources:
        spec.check_curation()
    tokenizer = None
    if settings.plots and settings.plot_tokenizer:
        tokenizer = load_reference_tokenizer(settings.plot_tokenizer)
    references = [path for ref in settings.decontamination.references for path in local_inputs(ref)]
    inputs = [*protect, *references, *(path for spec in sources for path in local_inputs(spec))]
    with staged_output(out_dir, command="build", inputs=inputs, overwrite=overwrite) as tmp:
        curation = Curation(settings, sources)
        curation.read_references()
        seen: dict[bool, set[str]] = {True: set(), False: set()}  # eval configs deduplicate among themselves
        built = {spec.config: _build_source(spec, tmp, seen[spec.eval], curation, strict=strict, num_proc=num_proc,
                                            shard_rows=shard_rows, progress=progress)
                 for spec in sorted(sources, key=lambda spec: not spec.eval)}
        stats = [built[spec.config] for spec in sources]
        if not any(s.rows_out for s in stats):
            raise NothingBuilt(_nothing_built(stats))
        mix = write_mix(tmp, sources, shard_rows) if needs_mix(sources) else None
        token_notes = _sample_tokens(tmp, stats, tokenizer, settings.token_sample)
        tokenizer_name = _public_name(settings.plot_tokenizer)
        plots = write_plots(tmp, stats, tokenizer_name=tokenizer_name) if settings.plots else []
        plot_info = {"files": [plot.file for plot in plots], "tokenizer": tokenizer_name, **token_notes}
        report = build_report(stats, strict=strict, settings=settings, curation=curation.summary(), mix=mix,
                              plots=plot_info)
        write_report(tmp, report)
        write_card(tmp, sources, stats, title=title, repo_id=repo_id, report=report, plots=plots)
    return BuildResult(Path(out_dir).expanduser().resolve(), stats)


def _public_name(path_or_id: str | None) -> str | None:
    """A Hub id as it is, a local path by its last component (the card never shows local paths)."""
    if path_or_id is None or not Path(path_or_id).expanduser().exists():
        return path_or_id
    return Path(path_or_id).expanduser().resolve().name


def _sample_tokens(root: Path, stats: list[SourceStats], tokenizer: Any, limit: int) -> dict[str, Any]:
    """Token counts of each config's sample into its stats; the note the report keeps about it."""
    if tokenizer is None:
        return {"note": "tokens per row not plotted: no reference tokenizer given (--plot-tokenizer)"}
    failures = {}
    for stat in stats:
        stat.token_counts, failed = sample_token_counts(root / "data" / stat.config, tokenizer, limit)
        if failed:
            failures[stat.config] = failed
    return {"sample_rows_per_config": limit, "render_failures": failures}


def _nothing_built(stats: list[SourceStats]) -> str:
    records = sum(s.records_in for s in stats)
    unreadable = [u["reason"] for s in stats for u in s.unreadable_files]
    reasons = sum((s.reject_reasons for s in stats), Counter())
    text = f"no rows to write: {records} record(s) read from {len(stats)} source(s)"
    if records:
        text += f", {sum(s.rejected for s in stats)} rejected, {sum(s.duplicates for s in stats)} duplicates"
        for label, key in (("contaminated", "contaminated"), ("capped", "capped"),
                           ("near duplicates removed", "near_duplicates_removed")):
            if sum(getattr(s, key) for s in stats):
                text += f", {sum(getattr(s, key) for s in stats)} {label}"
    if reasons:
        reason, count = reasons.most_common(1)[0]
        text += f" (most common reason, {count}x: {reason})"
    if unreadable:
        text += f"; unreadable: {unreadable[0]}" + (f" and {len(unreadable) - 1} more" if len(unreadable) > 1 else "")
    return text + "; nothing was written"


def _build_source(spec: SourceSpec, root: Path, seen: set[str], curation: Curation, *, strict: bool,
                  num_proc: int, shard_rows: int, progress: bool) -> SourceStats:
    fmt = source_format(spec)
    if fmt is not None:
        check_source_options(spec.config, fmt, spec.options)
    stats = SourceStats(spec.config, fmt or "auto", eval=spec.eval, weight=spec.weight, max_rows=spec.max_rows)
    writers = {split: ShardWriter(root / "data" / spec.config, shard_rows, split) for split in ("train", "test")}
    removed = {kind: _JsonLines(root / folder / f"{spec.config}.jsonl") for kind, folder in REMOVED_FOLDERS.items()}
    rejects = _JsonLines(root / "rejects" / f"{spec.config}.jsonl")
    formats_seen: set[str] = set()
    bar = _progress_bar(spec.config, progress)
    try:
        for ref, record, row, error in normalized_records(spec, strict, num_proc, stats.unreadable_files):
            stats.records_in += 1
            bar.update(1)
            if error is not None:
                stats.add_reject(error)
                rejects.write({"ref": ref, "reason": error, "record": record})
                continue
            if row["id"] in seen:
                stats.duplicates += 1
                continue
            seen.add(row["id"])
            _finish_meta(row, spec)
            outcome = curation.decide(row, spec, stats)
            if outcome.kind != "keep":
                if outcome.record is not None:
                    removed[outcome.kind].write(outcome.record)
                continue
            formats_seen.add(row["meta"]["format"])
            stats.add_row(row, outcome.split)
            writers[outcome.split].add(row)
    finally:
        bar.close()
        for sink in (rejects, *removed.values()):
            sink.close()
    for writer in writers.values():
        writer.close()
    stats.format = fmt or ",".join(sorted(formats_seen)) or "auto"
    assert stats.balanced(), f"record accounting broken for {spec.config}"
    return stats


class _JsonLines:
    """A JSON-lines file created at its first line (no file for a source without such lines)."""

    def __init__(self, path: Path):
        self.path = path
        self._handle = None

    def write(self, value: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", encoding="utf-8")
        self._handle.write(json.dumps(value, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _finish_meta(row: dict, spec: SourceSpec) -> None:
    meta = row["meta"]
    if spec.license:
        meta.setdefault("license", spec.license)
    meta.setdefault("language", spec.language or guess_language(row["messages"]))


def _progress_bar(config: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(desc=f"normalize {config}", unit=" rec", disable=not enabled, mininterval=0.5, leave=False)


def spec_from_cli(value: str, formats: dict[str, str], **defaults: Any) -> SourceSpec:
    """Parse a ``CONFIG=PATH`` command-line value into a SourceSpec."""
    config, sep, path = value.partition("=")
    if not sep or not config or not path:
        raise SourceError(f"--source expects CONFIG=PATH, got {value!r}")
    return SourceSpec(config=config, path=path, format=formats.get(config), **defaults)

