"""``tokenize_dataset`` on a streaming ``datasets.IterableDataset``: lazy, batched, bounded memory.

The rows are tokenized by the batch function of the in-memory path (``tokenize._MapBatch``, the same encoder), one
batch at a time as the result is iterated, so the rows and labels are those of the in-memory path, in the same
order: a dropped row is removed, a split conversation gives several rows, each with its ``keep_columns``.

* **Report**: the ``TokenizeReport`` returned with ``return_report=True`` is filled as rows are consumed. A new pass
  over the result (an epoch) starts it afresh, so after a complete pass it holds the counts of the whole dataset, as
  the in-memory report does. It counts in the process that iterates: rows tokenized in ``DataLoader`` worker
  processes are counted there, not in the main process's report.
* **Packing** (``pack=True``): best fit decreasing over a buffer of ``pack_buffer`` tokenized rows at a time (as
  TRL packs a streaming dataset per ``map`` batch), so memory stays bounded; bins fill a little less than when the
  whole dataset is packed at once. The report's ``packing`` entry counts every buffer.
* **Many machines**: ``datasets.distributed.split_dataset_by_node`` before or after ``tokenize_dataset``. Split
  before, each node tokenizes only its own rows: its shards when ``world_size`` divides the number of shards
  (files), else every ``world_size``-th row, selected before tokenization rather than after (as datasets would).
  Split after, the shards are divided the same way, and otherwise each node tokenizes every row and keeps every
  ``world_size``-th output row. Either way the nodes' rows are disjoint and together make the whole.
* **Raw rows** (not stored canonically) are normalized on the fly as in memory; the first batch is checked at once,
  and a stream none of whose first rows ``normalize`` accepts is refused. A stream of Python dicts that declares no
  features (``IterableDataset.from_generator(records)``) is read as the dicts are, never cast to the features of its
  first rows: a key first seen in a later row (a ``tool_calls`` of row 600) is kept, as ``Dataset.from_list`` keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidRecord
from .packing import PackingStats, pack_table
from .raw_rows import ADVICE, RawRows, drop_null_keys, normalize_record
from .tokenize_report import TokenizeReport


def streamable(dataset: Any, *, num_proc: int | None, pack_buffer: int) -> Any:
    """``dataset`` with its features known (read from its first rows when the loader did not declare them); a
    ``ValueError`` for options a stream does not take."""
    if num_proc not in (None, 0, 1):
        raise ValueError("num_proc does not apply to a streaming dataset: split it with "
                         "datasets.distributed.split_dataset_by_node, or read it with DataLoader(num_workers=N)")
    if pack_buffer < 1:
        raise ValueError(f"pack_buffer must be positive, got {pack_buffer}")
    if dataset.features is None:
        dataset = dataset._resolve_features()  # what IterableDataset.map does for a function that needs them
    if dataset.features is None:
        raise ValueError("the streaming dataset declares no features and none could be read from its first rows")
    return dataset


def tokenize_stream(dataset: Any, map_batch: Any, report: TokenizeReport, *, input_columns: Sequence[str],
                    features: Mapping[str, Any], batch_size: int, pack_length: int | None = None,
                    pack_buffer: int = 1000, source: Any = None) -> Any:
    """The lazy ``IterableDataset`` of ``dataset``'s tokenized rows (``features``), ``report`` filled as they are
    consumed; packed ``pack_buffer`` rows at a time into ``pack_length`` bins when it is given. ``source`` is the
    stream as the user gave it, before :func:`streamable` read its features (default: ``dataset``)."""
    from datasets import Features

    python_rows = map_batch.raw is not None and source is not None and source.features is None
    stream = source if python_rows else dataset  # Python dicts are read as they are, not cast to inferred features
    format_type = None if python_rows else "arrow"
    columns = None if python_rows else list(input_columns)
    raw = _PythonRows() if python_rows else map_batch.raw
    if raw is not None:
        _refuse_when_nothing_normalizes(stream.with_format(format_type), raw, columns, batch_size)
    local = _rows_of_this_node(stream.with_format(format_type), batch_size)
    tokenized = local.map(
        _StreamBatch(map_batch, report, raw if python_rows else None), with_indices=True, input_columns=columns,
        batched=True, batch_size=batch_size, remove_columns=_replaced(dataset.column_names, features),
        features=Features(features))
    if pack_length is not None:
        packed = _packed_features()
        tokenized = tokenized.with_format("arrow").map(
            _PackBuffer(pack_length, report), with_indices=True, batched=True, batch_size=pack_buffer,
            remove_columns=_replaced(features, packed), features=packed)
    return tokenized.with_format(None)


class _StreamBatch:
    """One batch: the in-memory path's batch function, its statuses counted into the report, dropped rows and
    status columns removed. With ``python_rows``, the batch is a dict of Python values, normalized as they are."""

    def __init__(self, map_batch: Any, report: TokenizeReport, python_rows: "_PythonRows | None" = None):
        self.map_batch = map_batch
        self.report = report
        self.python_rows = python_rows
        self.rows_seen = 0

    def __call__(self, *columns: Any) -> Any:
        import pyarrow.compute as pc

        from .tokenize import _STATUS_COLUMNS, count_statuses

        *columns, indices = columns
        if len(indices) and indices[0] == 0:  # a new pass over the stream
            _restart(self.report)
            self.rows_seen = 0
        table = self.map_batch(*columns) if self.python_rows is None else self._python_table(columns[0])
        count_statuses(self.report, table, first_row=self.rows_seen)
        self.rows_seen += table.num_rows
        kept = table.filter(pc.is_null(table.column("_drop_reason"))).drop_columns(list(_STATUS_COLUMNS))
        return kept if self.python_rows is None else kept.to_pydict()

    def _python_table(self, batch: Mapping[str, list[Any]]) -> Any:
        import pyarrow as pa

        rows, outcomes = self.python_rows.encode(self.map_batch.encoder, batch)
        kept_columns = {name: pa.array(batch[name]) for name in self.map_batch.keep_columns}
        return self.map_batch._table(kept_columns, rows, outcomes)


class _PythonRows(RawRows):
    """Raw rows of a batch of Python dicts (a stream that declares no features), null-valued keys dropped as
    ``tokenize_conversation`` drops them."""

    def __init__(self) -> None:
        self.features = {}

    def records(self, batch: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [drop_null_keys(dict(zip(batch, values))) for values in zip(*batch.values())]


class _PackBuffer:
    """Packs one buffer of tokenized rows and counts it into the report's ``packing`` entry."""

    def __init__(self, max_length: int, report: TokenizeReport):
        self.max_length = max_length
        self.report = report
        self.stats = PackingStats(0, 0, 0, 0, 0)

    def __call__(self, table: Any, indices: Sequence[int]) -> Any:
        if len(indices) and indices[0] == 0:
            self.stats = PackingStats(0, 0, 0, 0, 0)
        packed, stats = pack_table(table, self.max_length)
        self.report.packing = self.stats.add(stats).report()
        return packed


class _EveryNth:
    """Keeps the rows of one node: row ``i`` when ``i % world_size == rank``."""

    def __init__(self, world_size: int, rank: int):
        self.world_size = world_size
        self.rank = rank

    def __call__(self, table: Any, indices: Sequence[int]) -> list[bool]:
        return [index % self.world_size == self.rank for index in indices]


def _rows_of_this_node(dataset: Any, batch_size: int) -> Any:
    """``dataset``, or, when ``split_dataset_by_node`` would keep every ``world_size``-th row of it, a dataset of
    those rows only, selected before tokenization (datasets would select them among the tokenized rows, after every
    node tokenized every row)."""
    distributed = getattr(dataset, "_distributed", None)
    if distributed is None:
        return dataset
    world_size, rank = distributed.world_size, distributed.rank
    strategy = getattr(distributed, "strategy", "auto")
    if strategy == "shards" or (strategy == "auto" and dataset.num_shards % world_size == 0):
        return dataset  # datasets gives each node its own shards, before any map
    local = dataset.with_format(dataset._formatting.format_type if dataset._formatting else None)  # a copy
    local._distributed = None  # its rows are selected here instead
    return local.filter(_EveryNth(world_size, rank), with_indices=True, batched=True, batch_size=batch_size)


def _refuse_when_nothing_normalizes(dataset: Any, raw: Any, input_columns: Sequence[str] | None,
                                    batch_size: int) -> None:
    """``ValueError`` when not one row of the stream's first batch is canonical or normalizable (the in-memory path
    refuses a dataset with no such row; a stream is checked before training starts, on its first rows)."""
    first = next(iter(dataset.iter(batch_size=batch_size)), None)
    if first is None:
        return
    reasons = []
    batch = first if input_columns is None else {name: first.column(name) for name in input_columns}
    for record in raw.records(batch):
        try:
            normalize_record(record)
            return
        except InvalidRecord as exc:
            reasons.append(exc.reason)
    raise ValueError(f"tokenize_dataset: none of the first {len(reasons)} rows of the stream is canonical or in a "
                     f"format normalize accepts ({'; '.join(reasons[:3])}); {ADVICE}")


def _replaced(columns: Any, output: Any) -> list[str]:
    """The input columns a map's output does not hold (datasets removes the output's columns of these names too)."""
    return [name for name in columns if name not in output]


def _restart(report: TokenizeReport) -> None:
    """Clear the counts of ``report`` in place, keeping what it says about the setup."""
    fresh = TokenizeReport(template=report.template, stop_tokens=list(report.stop_tokens))
    report.__dict__.update(fresh.__dict__)


def _packed_features() -> Any:
    from datasets import Features, List, Value

    return Features({"input_ids": List(Value("int32")), "labels": List(Value("int32")),
                     "position_ids": List(Value("int32")), "seq_lengths": List(Value("int32")),
                     "attention_mask": List(Value("int8"))})
