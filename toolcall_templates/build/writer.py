"""Write canonical rows as parquet shards, ``data/<config>/train-XXXXX-of-YYYYY.parquet``, with bounded memory."""

from __future__ import annotations

from pathlib import Path

from ..schema import Row, features

DEFAULT_SHARD_ROWS = 50_000


class ShardWriter:
    """Buffers the rows of one config and flushes a parquet shard every ``shard_rows`` rows."""

    def __init__(self, folder: Path, shard_rows: int = DEFAULT_SHARD_ROWS):
        self.folder = folder
        self.shard_rows = shard_rows
        self._buffer: list[Row] = []
        self._parts: list[Path] = []

    def add(self, row: Row) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= self.shard_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        from datasets import Dataset
        from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f"part-{len(self._parts):05d}.parquet"
        was_enabled = is_progress_bar_enabled()
        disable_progress_bar()
        try:
            Dataset.from_list(self._buffer, features=features()).to_parquet(str(part))
        finally:
            if was_enabled:
                enable_progress_bar()
        self._parts.append(part)
        self._buffer = []

    def close(self) -> list[Path]:
        """Flush and give the shards their final Hub-style names; returns the shard paths."""
        self._flush()
        total = len(self._parts)
        final = []
        for index, part in enumerate(self._parts):
            target = part.with_name(f"train-{index:05d}-of-{total:05d}.parquet")
            part.rename(target)
            final.append(target)
        return final
