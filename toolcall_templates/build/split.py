"""Per-row decisions from the row id alone: the held-out split and the copies in the weighted mix.

A row id is a content hash, the same on every machine, so these decisions are the same on every rebuild and never
depend on other rows (adding a source moves no row between ``train`` and ``test``). Each decision hashes the id with
its own salt, so the test split and the mix sampling are independent.
"""

from __future__ import annotations

import hashlib
import math

_SPLIT_SALT = b"toolcall-templates/split\0"
_MIX_SALT = b"toolcall-templates/mix\0"
_SAMPLE_SALT = b"toolcall-templates/sample\0"


def unit_hash(row_id: str, salt: bytes) -> float:
    """A number in [0, 1) fixed by ``row_id`` and ``salt`` (the first 8 bytes of their SHA-256)."""
    digest = hashlib.sha256(salt + row_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def split_of(row_id: str, test_fraction: float) -> str:
    """``"test"`` for about ``test_fraction`` of all rows, ``"train"`` for the others."""
    return "test" if test_fraction > 0 and unit_hash(row_id, _SPLIT_SALT) < test_fraction else "train"


def copies(row_id: str, weight: float) -> int:
    """How many times a train row appears in the weighted mix: ``floor(weight)``, plus one when the row's hash falls
    below the fractional part (so a source contributes about ``weight`` times its rows)."""
    whole = math.floor(weight)
    return whole + (unit_hash(row_id, _MIX_SALT) < weight - whole)


def sample_key(row_id: str) -> float:
    """Sort key of the rows a statistic samples (the same rows on every rebuild)."""
    return unit_hash(row_id, _SAMPLE_SALT)
