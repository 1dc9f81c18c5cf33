"""Write canonical rows as parquet shards, ``data/<config>/<split>-XXXXX-of-YYYYY-<hash>.parquet``, in bounded memory.

Rows are encoded straight to Arrow: JSON values (``messages``, ``meta``, tool ``parameters``) are serialized once
and the table is cast to the ``datasets`` schema, whose ``huggingface`` metadata makes ``load_dataset`` decode them
back to dicts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..arrow_storage import storage_type
from ..schema import Row, features

DEFAULT_SHARD_ROWS = 100_000
SHARD_BYTES = 64 * 1024 * 1024
"""A shard is flushed at whichever comes first: ``shard_rows`` rows or this much encoded JSON text."""
ROW_GROUP_ROWS = 2_000


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def encode_row(row: Row) -> dict[str, Any]:
    """A canonical row with its JSON values serialized, ready for the storage schema."""
    tools = row["tools"]
    return {
        "id": row["id"],
        "source": row["source"],
        "tools": None if tools is None else [
            {"type": t["type"], "function": {"name": t["function"]["name"], "description": t["function"]["description"],
                                             "parameters": _dumps(t["function"]["parameters"])}} for t in tools],
        "messages": [_dumps(m) for m in row["messages"]],
        "meta": _dumps(row["meta"]),
        "warnings": list(row["warnings"]),
    }


class ShardWriter:
    """Buffers the rows of one split of one config and flushes a parquet shard when the buffer is full (memory stays
    bounded). Rows come one by one (``add``) or as Arrow tables of the same schema (``add_table``)."""

    def __init__(self, folder: Path, shard_rows: int = DEFAULT_SHARD_ROWS, split: str = "train"):
        import pyarrow as pa

        self.folder = folder
        self.shard_rows = shard_rows
        self.split = split
        self._schema = features().arrow_schema
        self._storage_schema = pa.schema([pa.field(f.name, storage_type(f.type)) for f in self._schema])
        self._buffer: list[dict[str, Any]] = []
        self._tables: list[Any] = []
        self._buffer_bytes = 0
        self._buffer_rows = 0
        self._parts: list[Path] = []
        self.rows = 0

    def add(self, row: Row) -> None:
        encoded = encode_row(row)
        self._buffer.append(encoded)
        self._grow(1, len(encoded["meta"]) + sum(len(m) for m in encoded["messages"]))

    def add_table(self, table) -> None:
        """Append the rows of an Arrow table of canonical rows (as read back from a shard)."""
        if self._buffer:
            self._tables.append(self._encoded_table())
        table = table.cast(self._schema)
        start = 0
        while start < table.num_rows:
            piece = table.slice(start, min(table.num_rows - start, self.shard_rows - self._buffer_rows))
            self._tables.append(piece)
            start += piece.num_rows
            self._grow(piece.num_rows, piece.nbytes)

    def _grow(self, rows: int, size: int) -> None:
        self.rows += rows
        self._buffer_rows += rows
        self._buffer_bytes += size
        if self._buffer_rows >= self.shard_rows or self._buffer_bytes >= SHARD_BYTES:
            self._flush()

    def _encoded_table(self):
        import pyarrow as pa

        table = pa.Table.from_pylist(self._buffer, schema=self._storage_schema).cast(self._schema)
        self._buffer = []
        return table

    def _flush(self) -> None:
        if not self._buffer_rows:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._buffer:
            self._tables.append(self._encoded_table())
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f".{self.split}-part-{len(self._parts):05d}.parquet"
        table = self._tables[0] if len(self._tables) == 1 else pa.concat_tables(self._tables)
        pq.write_table(table, part, row_group_size=ROW_GROUP_ROWS, compression="zstd")
        self._parts.append(part)
        self._tables = []
        self._buffer_bytes = 0
        self._buffer_rows = 0

    def close(self) -> list[Path]:
        """Flush and name the shards ``<split>-<i>-of-<n>-<content hash>.parquet``; returns the shard paths.

        The content hash in the name keeps the names of an identical rebuild identical, and makes a changed shard a
        new file: ``datasets`` caches a local folder by its file names, so a changed dataset under the same names
        would be served stale from the cache.
        """
        self._flush()
        total = len(self._parts)
        final = []
        for index, part in enumerate(self._parts):
            digest = hashlib.sha256(part.read_bytes()).hexdigest()[:12]
            target = part.with_name(f"{self.split}-{index:05d}-of-{total:05d}-{digest}.parquet")
            part.rename(target)
            final.append(target)
        return final
