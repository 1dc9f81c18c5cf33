"""Batched tokenization of rendered conversations, split at special tokens so that recurring pieces are encoded once.

A fast tokenizer cuts its input at added tokens before it normalizes, pre-tokenizes and runs its model, and encodes
each piece between two added tokens on its own. Encoding those pieces separately and concatenating the ids is
therefore the same as encoding the whole text, provided the added tokens do not strip neighbouring whitespace
(``lstrip`` / ``rstrip`` / ``single_word``) and are matched on raw text. Pieces that recur across rows (system
prompts, tool definitions, role headers, tool calls) are then encoded once and reused from a bounded cache. The
equivalence is probed on each tokenizer when the encoder is built; a tokenizer that fails the probe (e.g. a
SentencePiece ``Metaspace`` pre-tokenizer that prefixes only the first piece) is encoded text by text.

Each batch makes one tokenizer call for the pieces it still needs (:mod:`piece_encoding`).

Ids are ``int32`` numpy arrays: a cached piece costs 4 bytes per token instead of a Python list of int objects,
the garbage collector has nothing to walk in the cache, and a batch's ids reach Arrow without a per-token
conversion.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import numpy as np

from .control_tokens import ControlTokenTable, encode_as_text
from .piece_encoding import NO_IDS, Entry, Ids, encode_pieces, restore_truncation, suspend_truncation

DEFAULT_CACHE_TOKENS = 1_000_000
"""Tokens kept in the piece cache; on overflow only the pieces of the batch and those reused lately are kept."""

_PROBE_CONTEXTS = ("", "a", " b", "\n", "\n\n", "  c  ", "Hello world.", "中文字符", " {\"k\": [1, 2]}\n", "\t x")

Span = tuple[int, int]
_NO_ENTRY: Entry = (NO_IDS, {})
_NO_KEYS: frozenset[int] = frozenset()


class SegmentEncoder:
    """Encode many rendered texts with one batched tokenizer call, reusing pieces already encoded."""

    def __init__(self, tokenizer: Any, control: ControlTokenTable | None = None,
                 cache_tokens: int = DEFAULT_CACHE_TOKENS):
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ValueError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: exact label masks need character offsets"
            )
        self.tokenizer = tokenizer
        self.backend = backend
        self.control = control or ControlTokenTable.from_tokenizer(tokenizer)
        self.cache_tokens = cache_tokens
        self._cache: dict[str, Entry] = {}
        self._cached_tokens = 0
        self._hits: set[str] = set()
        self._boundary_ids = boundary_tokens(tokenizer)
        special = {t: i for t, i in self._boundary_ids.items() if i in _special_ids(tokenizer)}
        self._splitter = _alternation(self._boundary_ids)
        self._special_splitter = _alternation(special) or self._splitter
        self._joiner = min(special or self._boundary_ids, key=len, default=None)
        self._boundary_arrays = {t: np.array([i], dtype=np.int32) for t, i in self._boundary_ids.items()}
        self.stats = {"texts": 0, "pieces": 0, "pieces_encoded": 0, "chars_encoded": 0}
        self.split_exact = self._splitter is not None and self._probe()
        self.stats = dict.fromkeys(self.stats, 0)

    # -- public ------------------------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], spans: "Sequence[Sequence[Span]] | None" = None,
               escaped: "Sequence[bool] | None" = None) -> list[tuple[Ids, list[Span]]]:
        """Per text: its ids, and for each of its character spans the token positions ``[a, b)`` of the tokens
        overlapping the span. ``escaped[i]`` marks a text holding control-token sentinels (see ``control_tokens``)."""
        spans = spans if spans is not None else [()] * len(texts)
        escaped = escaped if escaped is not None else [False] * len(texts)
        self.stats["texts"] += len(texts)
        if not self.split_exact:
            return self._encode_whole(texts, spans, escaped)
        split = [(self._splitter if esc else self._special_splitter).split(text) for text, esc in zip(texts, escaped)]
        keys = [_query_keys(text_spans) for text_spans in spans]
        results = [self._assemble(*args) for args in zip(split, keys, spans, escaped)]  # from cache where it can
        missed = [i for i, result in enumerate(results) if result is None]
        if missed:
            wanted: dict[str, set[int]] = {}
            for i in missed:
                self._collect_missing(split[i], keys[i], escaped[i], wanted)
            self._encode_missing(wanted, [split[i] for i in missed])
            for i in missed:
                results[i] = self._assemble(split[i], keys[i], spans[i], escaped[i])
        return results  # type: ignore[return-value]

    def clear_cache(self) -> None:
        self._cache.clear()
        self._hits.clear()
        self._cached_tokens = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_cache={}, _hits=set(), _cached_tokens=0)
        return state

    # -- split mode --------------------------------------------------------------------------------------------
    def _collect_missing(self, parts: list[str], keys: list[int], escaped: bool, wanted: dict[str, set[int]]) -> None:
        """Add to ``wanted`` the pieces of one text that are not cached, or lack an answer to one of its query keys
        (with every key the piece must answer)."""
        cache, sentinel = self._cache, self.control.has_sentinel
        local = self._piece_keys(parts, keys)
        for k, part in enumerate(parts):
            if k % 2 or not part or (escaped and sentinel(part)):
                continue
            needed = local.get(k, _NO_KEYS)
            entry = cache.get(part)
            if entry is None or not needed <= entry[1].keys():
                wanted.setdefault(part, set()).update(needed, entry[1] if entry else ())

    @staticmethod
    def _piece_keys(parts: list[str], keys: list[int]) -> dict[int, set[int]]:
        """The query keys falling strictly inside a piece (after its first character), in piece coordinates, by part
        index."""
        if not keys:
            return {}
        char_ends = list(accumulate(map(len, parts)))
        local: dict[int, set[int]] = {}
        for key in keys:
            k = bisect_right(char_ends, key // 2)
            if k < len(parts) and k % 2 == 0:
                inside = key - 2 * (char_ends[k] - len(parts[k]))
                if inside >= 2:
                    local.setdefault(k, set()).add(inside)
        return local

    def _encode_missing(self, wanted: dict[str, set[int]], split: list[list[str]]) -> None:
        """Encode the wanted pieces in one call and cache them."""
        if not wanted:
            return
        cache = self._cache
        pieces = list(wanted)
        settings = suspend_truncation(self.backend)
        try:
            entries = encode_pieces(self.backend, self._joiner, self._boundary_ids[self._joiner], pieces,
                                    [wanted[p] for p in pieces])
        finally:
            restore_truncation(self.backend, settings)
        for piece, entry in zip(pieces, entries):
            old = cache.get(piece)
            self._cached_tokens += len(entry[0]) - (len(old[0]) if old else 0)
            cache[piece] = entry
        self.stats["pieces_encoded"] += len(pieces)
        self.stats["chars_encoded"] += sum(map(len, pieces))
        if self._cached_tokens > self.cache_tokens:  # keep this batch's pieces (hit or just encoded)
            self._evict(keep={piece for parts in split for piece in parts[0::2]} | self._hits)

    def _evict(self, keep: set[str]) -> None:
        self._cache = {k: v for k, v in self._cache.items() if k in keep}
        self._cached_tokens = sum(len(v[0]) for v in self._cache.values())
        self._hits = set()

    def _assemble(self, parts: list[str], keys: list[int], spans: Sequence[Span],
                  escaped: bool) -> tuple[Ids, list[Span]] | None:
        """Concatenate the pieces' ids and resolve the spans' query keys to token positions; None when a piece, or
        the answer to one of its keys, is not cached yet.

        ``parts`` alternates pieces (even positions) and boundary tokens (odd). A query key about character ``p``
        belongs to the first part ending after ``p``; at that part's first character the answer is the part's first
        token, inside a boundary token it is that token (it ends after ``p`` and starts before it), inside a piece
        it is the piece's cached answer.
        """
        cache = self._cache
        pieces = parts[0::2]
        entries = [cache.get(piece) if piece else _NO_ENTRY for piece in pieces]
        char_ends = list(accumulate(map(len, parts)))
        if escaped:
            for i, piece in enumerate(pieces):
                if piece and self.control.has_sentinel(piece):
                    start = char_ends[2 * i] - len(piece)
                    entries[i] = self._encode_escaped(
                        piece, [key - 2 * start for key in keys if start < key // 2 < start + len(piece)])
        if None in entries:
            return None
        self._hits.update(pieces)
        arrays: list[Ids] = [NO_IDS] * len(parts)
        arrays[0::2] = [entry[0] for entry in entries]
        boundary = self._boundary_arrays
        arrays[1::2] = [boundary[token] for token in parts[1::2]]
        token_ends = list(accumulate(map(len, arrays)))
        total = token_ends[-1]
        resolved: dict[int, int] = {}
        for key in keys:
            k = bisect_right(char_ends, key // 2)
            if k == len(parts):
                resolved[key] = total
                continue
            local = key - 2 * (char_ends[k] - len(parts[k]))
            if local < 2:  # at the part's first character
                answer = 0
            elif k % 2:  # inside a single token
                answer = local % 2
            else:
                answer = entries[k // 2][1].get(local)
                if answer is None:
                    return None
            resolved[key] = token_ends[k] - len(arrays[k]) + answer
        self.stats["pieces"] += len(pieces)
        ids = np.concatenate(arrays) if total else NO_IDS
        return ids, [(resolved[2 * a], resolved[2 * b + 1]) if b > a else (0, 0) for a, b in spans]

    def _encode_escaped(self, part: str, local_keys: list[int]) -> Entry:
        """Encode a piece holding sentinels as its literal text; positions stay in the sentinel text's coordinates."""
        restored_to_part: list[int] = []
        for position, char in enumerate(part):
            literal = self.control.literal_of.get(char)
            restored_to_part.extend([position] * (len(literal) if literal is not None else 1))
        ids, starts, ends = encode_as_text(self.backend, self.control.restore(part))
        starts = [restored_to_part[s] for s in starts]
        ends = [restored_to_part[e - 1] + 1 for e in ends]
        lookup = {key: bisect_left(starts, key // 2) if key % 2 else bisect_right(ends, key // 2)
                  for key in local_keys}
        return np.array(ids, dtype=np.int32), lookup

    # -- whole-text mode ---------------------------------------------------------------------------------------
    def _encode_whole(self, texts: Sequence[str], spans: Sequence[Sequence[Span]],
                      escaped: Sequence[bool]) -> list[tuple[Ids, list[Span]]]:
        if any(escaped):
            raise ValueError(
                "escaping control tokens needs a tokenizer whose added tokens split its input exactly; "
                f"{type(self.tokenizer).__name__} does not (use control_tokens='reject')"
            )
        batch = self.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for ids, offsets, text_spans in zip(batch["input_ids"], batch["offset_mapping"], spans):
            starts, ends = [s for s, _ in offsets], [e for _, e in offsets]
            out.append((np.array(ids, dtype=np.int32), [(bisect_right(ends, s), bisect_left(starts, e)) if e > s else (0, 0)
                                    for s, e in text_spans]))
        self.stats["pieces_encoded"] += len(texts)
        self.stats["chars_encoded"] += sum(map(len, texts))
        return out

    # -- exactness probe ---------------------------------------------------------------------------------------
    def _probe(self) -> bool:
        """Whether encoding pieces separately gives the tokenizer's own ids on texts around its added tokens."""
        tokens = sorted(self._boundary_ids)[:64]
        texts = [
            "".join(f"{before}{token}{after}" for token in tokens)
            for before in _PROBE_CONTEXTS
            for after in _PROBE_CONTEXTS[::-1]
        ]
        expected = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        self.split_exact = True
        try:
            got = [ids for ids, _ in self.encode(texts, escaped=[True] * len(texts))]  # finest split
            got_coarse = [ids for ids, _ in self.encode(texts)]
        finally:
            self.clear_cache()
        expected = [list(ids) for ids in expected]
        return [ids.tolist() for ids in got] == expected and [ids.tolist() for ids in got_coarse] == expected


def _query_keys(spans: Sequence[Span]) -> list[int]:
    """Sorted query keys of spans: ``2 * start`` asks for the first token ending after ``start``; ``2 * end + 1``
    for the number of tokens starting before ``end``."""
    return sorted({key for start, end in spans if end > start for key in (2 * start, 2 * end + 1)})


def _alternation(tokens: dict[str, int]) -> re.Pattern[str] | None:
    if not tokens:
        return None
    return re.compile("(" + "|".join(map(re.escape, sorted(tokens, key=len, reverse=True))) + ")")


def _special_ids(tokenizer: Any) -> set[int]:
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return {token_id for token_id, token in decoder.items() if token.special}


def boundary_tokens(tokenizer: Any) -> dict[str, int]:
    """Added tokens that cut the input without touching their neighbours: ``{content: id}``."""
    split_special = bool(getattr(tokenizer, "split_special_tokens", False))
    boundary = {}
    for token_id, token in (getattr(tokenizer, "added_tokens_decoder", None) or {}).items():
        if not token.content or token.lstrip or token.rstrip or token.single_word or token.normalized:
            continue
        if split_special and token.special:
            continue
        boundary[token.content] = token_id
    return boundary
