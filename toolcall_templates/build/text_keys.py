"""Normalized text, word n-grams and MinHash shingles of a row's user turns and calls.

One normalization serves decontamination and near-duplicate detection: Unicode NFKC, case folding, and every run of
punctuation and whitespace collapsed to one space. Tokens are runs of word characters, except that each CJK
character (Han, kana, Hangul) is a token of its own, since those scripts put no spaces between words. Hashes are
64-bit xxHash (``xxh3_64``), stable across machines and Python processes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import xxhash

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_SEPARATOR = "\x1f"


@lru_cache(maxsize=1024)
def tokens(text: str) -> tuple[str, ...]:
    """The normalized tokens of ``text`` (NFKC, casefolded, punctuation and whitespace dropped). Cached: a row's user
    turns are tokenized for decontamination and again for its MinHash shingles."""
    return tuple(_TOKEN.findall(unicodedata.normalize("NFKC", text).casefold()))


def text_hash(words: Sequence[str]) -> int:
    """64-bit hash of a normalized token sequence (equal for texts equal up to case, width, spacing, punctuation)."""
    return xxhash.xxh3_64_intdigest(_SEPARATOR.join(words).encode("utf-8"))


def ngram_hashes(words: Sequence[str], n: int) -> np.ndarray:
    """Sorted, distinct 64-bit hashes of the word ``n``-grams of ``words`` (empty when there are fewer than n)."""
    if n <= 0 or len(words) < n:
        return np.empty(0, dtype=np.uint64)
    hashes = [xxhash.xxh3_64_intdigest(_SEPARATOR.join(words[i:i + n]).encode("utf-8"))
              for i in range(len(words) - n + 1)]
    return np.unique(np.array(hashes, dtype=np.uint64))


def user_texts(row: dict[str, Any]) -> list[str]:
    """The text of every user turn of a canonical row."""
    return [m["content"] for m in row["messages"] if m.get("role") == "user" and isinstance(m.get("content"), str)]


def shingles(row: dict[str, Any], size: int = 3) -> list[bytes]:
    """MinHash shingles of a row: token ``size``-grams over its user turns followed by its calls (each call as its
    name then the tokens of its arguments as sorted-key JSON). Empty when the row has neither."""
    sequence: list[str] = []
    for text in user_texts(row):
        sequence += tokens(text)
    for message in row["messages"]:
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            sequence.append(f"call:{function.get('name', '')}")
            sequence += tokens(json.dumps(function.get("arguments"), sort_keys=True, ensure_ascii=False))
    if not sequence:
        return []
    if len(sequence) <= size:
        return [_SEPARATOR.join(sequence).encode("utf-8")]
    return list(dict.fromkeys(_SEPARATOR.join(sequence[i:i + size]).encode("utf-8")
                              for i in range(len(sequence) - size + 1)))
