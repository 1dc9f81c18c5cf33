"""One backend tokenizer call for many pieces of text (the pieces between special tokens, see ``segment_encoder``).

Pieces that a label starts or ends inside are encoded alone, and their encodings answer those character positions
(query keys) with token positions (``char_to_token``). The others are joined with a special token between them into
texts of ``JOINED_CHARS`` characters (about 10% faster than one input per piece), encoded without offsets
(``encode_batch_fast``, 15-20% faster), and their ids are cut back at the joining token. Nothing here touches
Python state: it is a pure function of the backend and its arguments.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np

JOINED_CHARS = 16_384
"""Characters per joined text handed to the tokenizer (small enough to share among its worker threads)."""

Ids = np.ndarray
"""Token ids: a one-dimensional ``int32`` array."""
NO_IDS: Ids = np.zeros(0, dtype=np.int32)
"""The empty id array (shared, so read-only)."""
NO_IDS.setflags(write=False)
Entry = tuple[Ids, dict[int, int]]
"""An encoded piece: its ids, and its answers to query keys (see ``segment_encoder._query_keys``), in piece
coordinates."""


def encode_pieces(backend: Any, joiner: str, joiner_id: int, pieces: list[str], wanted: list[set[int]]) -> list[Entry]:
    """Encode ``pieces`` (with ``wanted[i]`` the query keys piece ``i`` must answer) in one call of ``backend``, a
    ``tokenizers.Tokenizer`` whose truncation and padding are off (``suspend_truncation``)."""
    plain = [k for k, keys in enumerate(wanted) if not keys]
    queried = [k for k, keys in enumerate(wanted) if keys]
    chunks = _chunks([pieces[k] for k in plain], JOINED_CHARS)
    joined = [joiner.join(pieces[k] for k in plain[a:b]) for a, b in chunks]
    encodings = _encode_ids_only(backend, joined)
    if queried:
        encodings += backend.encode_batch([pieces[k] for k in queried], add_special_tokens=False)
    entries: list[Entry | None] = [None] * len(pieces)
    for (a, b), encoding in zip(chunks, encodings):
        ids = np.array(encoding.ids, dtype=np.int32)
        cuts = np.flatnonzero(ids == joiner_id)
        if len(cuts) != b - a - 1:  # a joining token went missing or appeared: never seen, but then do not join
            return [_encode_alone(backend, piece, keys) for piece, keys in zip(pieces, wanted)]
        starts = [0, *(cuts + 1).tolist()]
        ends = [*cuts.tolist(), len(ids)]
        for k, start, end in zip(plain[a:b], starts, ends):
            entries[k] = (ids[start:end].copy(), {})
    for k, encoding in zip(queried, encodings[len(chunks):]):
        entries[k] = (np.array(encoding.ids, dtype=np.int32), {key: _resolve(encoding, key) for key in wanted[k]})
    return entries  # type: ignore[return-value]


def suspend_truncation(backend: Any) -> tuple[Any, Any]:
    """Switch the backend's truncation and padding off; return them for ``restore_truncation``.

    transformers leaves the settings of its last call on the shared backend (after ``tokenizer(...,
    truncation=True, max_length=8)`` every ``encode_batch`` truncates), and a ``tokenizer.json`` may ship with them.
    """
    settings = (backend.truncation, backend.padding)
    if settings[0] is not None:
        backend.no_truncation()
    if settings[1] is not None:
        backend.no_padding()
    return settings


def restore_truncation(backend: Any, settings: tuple[Any, Any]) -> None:
    truncation, padding = settings
    if truncation is not None:
        backend.enable_truncation(**truncation)
    if padding is not None:
        backend.enable_padding(**padding)


def _encode_ids_only(backend: Any, texts: list[str]) -> list[Any]:
    """Encodings with ids only: ``encode_batch_fast`` skips the offsets, where it exists."""
    if not texts:
        return []
    fast = getattr(backend, "encode_batch_fast", None)
    return (fast or backend.encode_batch)(texts, add_special_tokens=False)


def _encode_alone(backend: Any, piece: str, wanted: set[int]) -> Entry:
    encoding = backend.encode(piece, add_special_tokens=False)
    return np.array(encoding.ids, dtype=np.int32), {key: _resolve(encoding, key) for key in wanted}


def _resolve(encoding: Any, key: int) -> int:
    """Answer a query key on the encoding of one piece: for ``2 * p`` the first token ending after character ``p``,
    for ``2 * p + 1`` the number of tokens starting before it."""
    position = key // 2
    first = encoding.char_to_token(position)  # the first token holding the character
    if first is None:  # offsets that skip this character: the next token after it
        first = bisect_right([end for _, end in encoding.offsets], position)
        return first
    if key % 2 == 0:
        return first
    return first + (encoding.token_to_chars(first)[0] < position)


def _chunks(pieces: list[str], max_chars: int) -> list[tuple[int, int]]:
    """``[a, b)`` ranges of consecutive pieces holding at most ``max_chars`` characters (or a single longer piece)."""
    chunks, start, size = [], 0, 0
    for k, piece in enumerate(pieces):
        if k > start and size + len(piece) > max_chars:
            chunks.append((start, k))
            start, size = k, 0
        size += len(piece)
    if start < len(pieces):
        chunks.append((start, len(pieces)))
    return chunks
