"""The weighted training mix: the ``default`` config's train split when a training source's weight is not 1.

Semantics (``SourceSpec.weight``): each train row of a training config appears ``split.copies(id, weight)`` times
in ``data/default/train-*.parquet``, that is ``floor(weight)`` times plus once more for about the fractional part of
the rows, chosen by id hash (weight 0.25 keeps about a quarter of the source, 2 repeats it twice, 0 leaves it out).
The per-source configs keep every row once, so the mix can always be redone from them; with every weight 1 nothing
is copied and ``default`` lists the per-source shards. The test split is never weighted.

The mix is read back from the per-source train shards one shard at a time (memory bounded by the shard size).
"""

from __future__ import annotations

from pathlib import Path

from .spec import SourceSpec
from .split import copies
from .writer import ShardWriter

MIX_FOLDER = "default"


def needs_mix(sources: list[SourceSpec]) -> bool:
    """Whether a training source has a weight other than 1."""
    return any(spec.weight != 1 for spec in sources if not spec.eval)


def write_mix(root: Path, sources: list[SourceSpec], shard_rows: int) -> dict[str, int]:
    """Write the weighted train split of ``default``; returns the rows each training config contributes."""
    import numpy as np
    import pyarrow.parquet as pq

    writer = ShardWriter(root / "data" / MIX_FOLDER, shard_rows, "train")
    contributed = {}
    for spec in sources:
        if spec.eval:
            continue
        before = writer.rows
        for shard in sorted((root / "data" / spec.config).glob("train-*.parquet")):
            table = pq.read_table(shard)
            repeats = [copies(row_id, spec.weight) for row_id in table.column("id").to_pylist()]
            indices = np.repeat(np.arange(table.num_rows), repeats)
            if len(indices):
                writer.add_table(table.take(indices))
        contributed[spec.config] = writer.rows - before
    writer.close()
    return contributed
