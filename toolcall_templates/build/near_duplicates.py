"""Near-duplicate rows across (and within) sources, with MinHash and LSH from ``datasketch``.

A row's MinHash is taken over the shingles of its user turns and calls (``text_keys.shingles``: token 3-grams of the
user text, then each call's name and argument tokens). ``datasketch.MinHashLSH`` proposes earlier rows as candidates;
a candidate is a near duplicate when the Jaccard similarity estimated from the two signatures reaches the threshold.
The earliest row (recipe order) is the one kept; pairs are counted per source pair, with a few example ids.

Shingles are hashed with 32-bit xxHash. Memory: per indexed row, one signature (``num_perm`` hash values, 512 bytes
at 128) plus its LSH buckets and id (about 3 KB in total, measured with datasketch 2.0); no row content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .settings import NearDuplicates
from .text_keys import shingles

EXAMPLES_PER_PAIR = 3
_SEED = 1


@dataclass(frozen=True)
class NearDuplicate:
    """The earlier row a row nearly duplicates."""

    config: str
    row_id: str
    similarity: float


class NearDuplicateIndex:
    """MinHash signatures of the rows kept so far, queried through an LSH index.

    A row found to nearly duplicate an earlier one is not indexed itself: later rows are compared with the first row
    of each group of near duplicates, which keeps the candidates of a large group (and the index) small.
    """

    def __init__(self, settings: NearDuplicates):
        import xxhash
        from datasketch import MinHash, MinHashLSH

        self.settings = settings
        self._sketch = MinHash(num_perm=settings.num_perm, seed=_SEED, hashfunc=xxhash.xxh32_intdigest)
        self._checked = False
        self._lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
        self._signatures = np.empty((1024, settings.num_perm), dtype=self._sketch.hashvalues.dtype)
        self._configs: list[str] = []
        self._config_numbers: dict[str, int] = {}
        self._owners: list[tuple[int, str]] = []
        self._pairs: dict[tuple[str, str], dict[str, Any]] = {}

    def check(self, row: dict[str, Any]) -> NearDuplicate | None:
        """The most similar indexed row at or above the threshold (the earliest among equals), or None. The row's
        signature is kept for ``add_checked``."""
        parts = shingles(row)
        self._checked = bool(parts)
        if not parts:
            return None
        self._sketch.clear()
        self._sketch.update_batch(parts)
        candidates = np.array(sorted(self._lsh.query(self._sketch)), dtype=np.int64)
        if not len(candidates):
            return None
        similarity = (self._signatures[candidates] == self._sketch.hashvalues).mean(axis=1)
        best = int(np.argmax(similarity))  # the first maximum: the earliest row
        if similarity[best] < self.settings.threshold:
            return None
        config, row_id = self._owners[candidates[best]]
        return NearDuplicate(self._configs[config], row_id, float(similarity[best]))

    def add_checked(self, config: str, row_id: str) -> None:
        """Index the row last given to ``check`` (nothing when it had no user text and no call)."""
        if not self._checked:
            return
        self._checked = False
        key = len(self._owners)
        if key == len(self._signatures):
            self._signatures = np.concatenate([self._signatures, np.empty_like(self._signatures)])
        self._signatures[key] = self._sketch.hashvalues
        if config not in self._config_numbers:
            self._config_numbers[config] = len(self._configs)
            self._configs.append(config)
        self._owners.append((self._config_numbers[config], row_id))
        self._lsh.insert(key, self._sketch, check_duplication=False)

    def count_pair(self, near: NearDuplicate, config: str, row_id: str) -> None:
        """Count ``row_id`` of ``config`` as a near duplicate of the earlier row ``near``."""
        pair = self._pairs.setdefault((near.config, config), {"rows": 0, "examples": []})
        pair["rows"] += 1
        if len(pair["examples"]) < EXAMPLES_PER_PAIR:
            pair["examples"].append({"kept": near.row_id, "near_duplicate": row_id,
                                     "similarity": round(near.similarity, 3)})

    def summary(self) -> dict[str, Any]:
        """Method, parameters and the per-source-pair counts (most rows first), for the report and the card."""
        pairs = sorted(self._pairs.items(), key=lambda item: (-item[1]["rows"], item[0]))
        return {"method": "MinHash/LSH (datasketch) over user turns and calls, token 3-gram shingles",
                "mode": self.settings.mode, "threshold": self.settings.threshold, "num_perm": self.settings.num_perm,
                "rows_indexed": len(self._owners),
                "pairs": [{"first": first, "second": second, **counts} for (first, second), counts in pairs]}
