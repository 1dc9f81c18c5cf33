"""Write a streaming dataset to parquet shards as it is iterated, with bounded memory.

The rows are read in Arrow batches and appended to one open ``pyarrow.parquet.ParquetWriter`` at a time (a row group
per batch); a shard is closed after ``rows_per_shard`` rows and the next one opened. Only one batch is in memory.
The shards are named ``train-00000-of-00003.parquet`` as ``toolcall build`` names them (renamed when the count is
known, at the end) and carry the dataset's features, so ``load_dataset("parquet", ...)`` reads the same columns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

ROWS_PER_SHARD = 250_000
BATCH_ROWS = 1_000


def write_parquet_shards(stream: Any, folder: Path, *, split: str = "train", rows_per_shard: int = ROWS_PER_SHARD,
                         batch_rows: int = BATCH_ROWS, progress: Callable[[int], None] | None = None) -> list[Path]:
    """Write the rows of ``stream`` (a ``datasets.IterableDataset`` with known features) into ``folder``; the shard
    paths, none when the stream has no row. ``progress`` is called with the rows of each batch written."""
    import pyarrow.parquet as pq

    if rows_per_shard < 1 or batch_rows < 1:
        raise ValueError("rows_per_shard and batch_rows must be positive")
    schema = stream.features.arrow_schema
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    writer, rows_in_shard = None, 0
    try:
        for batch in stream.with_format("arrow").iter(batch_size=batch_rows):
            start = 0
            while start < batch.num_rows:
                if writer is None:
                    written.append(folder / f".{split}-{len(written):05d}.parquet.partial")
                    writer, rows_in_shard = pq.ParquetWriter(str(written[-1]), schema), 0
                part = batch.slice(start, rows_per_shard - rows_in_shard)
                writer.write_table(part.cast(schema))
                rows_in_shard += part.num_rows
                start += part.num_rows
                if rows_in_shard >= rows_per_shard:
                    writer.close()
                    writer = None
            if progress is not None:
                progress(batch.num_rows)
    finally:
        if writer is not None:
            writer.close()
    shards = [folder / f"{split}-{i:05d}-of-{len(written):05d}.parquet" for i in range(len(written))]
    for partial, shard in zip(written, shards):
        partial.rename(shard)
    return shards
