"""Batched tokenization of rendered conversations, split at added tokens so that recurring pieces are encoded once.

A fast tokenizer cuts its input at added tokens before it normalizes, pre-tokenizes and runs its model, and encodes
each piece between two added tokens on its own. Encoding those pieces separately and concatenating the ids is
therefore the same as encoding the whole text, provided the added tokens do not strip neighbouring whitespace
(``lstrip`` / ``rstrip`` / ``single_word``) and are matched on raw text. Pieces that recur across rows (system
prompts, tool definitions, role headers, tool calls) are then encoded once and reused from a bounded cache. The
equivalence is probed on each tokenizer when the encoder is built; a tokenizer that fails the probe (e.g. a
SentencePiece ``Metaspace`` pre-tokenizer that prefixes only the first piece) is encoded text by text, still in
one batched call.

Character offsets are only converted for pieces that a label boundary falls inside of (``cuts``); a boundary on a
piece edge needs none.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .control_tokens import ControlTokenTable, encode_as_text

DEFAULT_CACHE_TOKENS = 1_000_000
"""Tokens kept in the piece cache; on overflow only the pieces of the batch and those reused lately are kept."""

_PROBE_CONTEXTS = ("", "a", " b", "\n", "\n\n", "  c  ", "Hello world.", "中文字符", " {\"k\": [1, 2]}\n", "\t x")

Piece = tuple[int, int, Any, Any]
"""``(char_start, token_start, starts, ends)``; ``starts``/``ends``: token offsets inside the piece, or None."""


@dataclass
class EncodedText:
    """Ids of one text and what maps its character positions to token positions."""

    ids: list[int]
    pieces: list[Piece]
    """Pieces in order, closed by an empty end piece at ``(len(text), len(ids))``."""
    piece_chars: list[int]

    def token_range(self, char_start: int, char_end: int) -> tuple[int, int]:
        """Token positions ``[a, b)`` of the tokens that overlap the character span ``[char_start, char_end)``."""
        if char_end <= char_start:
            return 0, 0
        return self._position(char_start, start=True), self._position(char_end, start=False)

    def _position(self, char: int, start: bool) -> int:
        k = bisect_right(self.piece_chars, char) - 1
        if k < 0:
            return 0
        base, token_base, starts, ends = self.pieces[k]
        if char == base:
            return token_base
        if starts is None:
            raise RuntimeError(f"no offsets for the piece holding character {char}; it was not marked as a cut")
        if start:  # first token that ends after `char`
            return token_base + bisect_right(ends, char - base)
        return token_base + bisect_left(starts, char - base)  # tokens that start before `char`


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
        self._cache: dict[str, tuple[list[int], Any, Any]] = {}
        self._cached_tokens = 0
        self._hits: set[str] = set()
        self._boundary_ids = boundary_tokens(tokenizer)
        self._splitter = (
            re.compile("(" + "|".join(map(re.escape, sorted(self._boundary_ids, key=len, reverse=True))) + ")")
            if self._boundary_ids else None
        )
        self.stats = {"texts": 0, "pieces": 0, "pieces_encoded": 0, "chars_encoded": 0}
        self.split_exact = self._splitter is not None and self._probe()
        self.stats = dict.fromkeys(self.stats, 0)

    # -- public ------------------------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], cuts: "Sequence[Sequence[int]] | None" = None,
               escaped: "Sequence[bool] | None" = None) -> list[EncodedText]:
        """Encode ``texts``.

        Args:
            cuts: per text, the character positions that :meth:`EncodedText.token_range` will be asked about.
            escaped: per text, whether it holds control-token sentinels (see :mod:`control_tokens`).
        """
        cuts = cuts if cuts is not None else [()] * len(texts)
        escaped = escaped if escaped is not None else [False] * len(texts)
        self.stats["texts"] += len(texts)
        if not self.split_exact:
            return self._encode_whole(texts, escaped)
        split_texts = [self._splitter.split(text) for text in texts]
        inner = [_pieces_cut_inside(parts, sorted(c)) for parts, c in zip(split_texts, cuts)]
        self._encode_missing(split_texts, inner, escaped)
        return [self._assemble(parts, esc) for parts, esc in zip(split_texts, escaped)]

    def clear_cache(self) -> None:
        self._cache.clear()
        self._hits.clear()
        self._cached_tokens = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_cache={}, _hits=set(), _cached_tokens=0)
        return state

    # -- split mode --------------------------------------------------------------------------------------------
    def _encode_missing(self, split_texts: list[list[str]], inner: list[set[str]], escaped: Sequence[bool]) -> None:
        """Encode, in one call, the pieces not cached yet and the cached ones that now need their offsets."""
        cache, sentinel = self._cache, self.control.has_sentinel
        needed: dict[str, None] = {}
        with_offsets: set[str] = set()
        for parts, cut_pieces, esc in zip(split_texts, inner, escaped):
            for piece in parts[0::2]:
                if piece and not (esc and sentinel(piece)):
                    needed[piece] = None
            with_offsets |= cut_pieces
        todo = [p for p in needed if p not in cache or (p in with_offsets and cache[p][1] is None)]
        if not todo:
            return
        encodings = self.backend.encode_batch(todo, add_special_tokens=False)
        self.stats["pieces_encoded"] += len(todo)
        self.stats["chars_encoded"] += sum(map(len, todo))
        for piece, encoding in zip(todo, encodings):
            if piece in cache:
                self._cached_tokens -= len(cache[piece][0])
            if piece in with_offsets:
                offsets = encoding.offsets
                cache[piece] = (encoding.ids, [s for s, _ in offsets], [e for _, e in offsets])
            else:
                cache[piece] = (encoding.ids, None, None)
            self._cached_tokens += len(cache[piece][0])
        if self._cached_tokens > self.cache_tokens:
            self._evict(keep=needed.keys() | self._hits)

    def _evict(self, keep: set[str]) -> None:
        self._cache = {k: v for k, v in self._cache.items() if k in keep}
        self._cached_tokens = sum(len(v[0]) for v in self._cache.values())
        self._hits = set()

    def _assemble(self, parts: list[str], escaped: bool) -> EncodedText:
        cache, hits, boundary = self._cache, self._hits, self._boundary_ids
        ids: list[int] = []
        pieces: list[Piece] = []
        char = 0
        for k, part in enumerate(parts):
            if not part:
                continue
            if k % 2:
                pieces.append((char, len(ids), (0,), (len(part),)))
                ids.append(boundary[part])
            else:
                if escaped and self.control.has_sentinel(part):
                    entry = self._encode_escaped(part)
                else:
                    entry = cache[part]
                    hits.add(part)
                pieces.append((char, len(ids), entry[1], entry[2]))
                ids.extend(entry[0])
            char += len(part)
        pieces.append((char, len(ids), None, None))
        self.stats["pieces"] += len(pieces) - 1
        return EncodedText(ids, pieces, [p[0] for p in pieces])

    def _encode_escaped(self, part: str) -> tuple[list[int], list[int], list[int]]:
        """Encode a piece holding sentinels as its literal text; offsets stay in the sentinel text's coordinates."""
        restored_to_part: list[int] = []
        for position, char in enumerate(part):
            literal = self.control.literal_of.get(char)
            restored_to_part.extend([position] * (len(literal) if literal is not None else 1))
        ids, starts, ends = encode_as_text(self.backend, self.control.restore(part))
        return ids, [restored_to_part[s] for s in starts], [restored_to_part[e - 1] + 1 for e in ends]

    # -- whole-text mode ---------------------------------------------------------------------------------------
    def _encode_whole(self, texts: Sequence[str], escaped: Sequence[bool]) -> list[EncodedText]:
        if any(escaped):
            raise ValueError(
                "escaping control tokens needs a tokenizer whose added tokens split its input exactly; "
                f"{type(self.tokenizer).__name__} does not (use control_tokens='reject')"
            )
        batch = self.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for text, ids, offsets in zip(texts, batch["input_ids"], batch["offset_mapping"]):
            pieces: list[Piece] = [(0, 0, [s for s, _ in offsets], [e for _, e in offsets]),
                                   (len(text), len(ids), None, None)]
            out.append(EncodedText(list(ids), pieces, [0, len(text)]))
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
            got = [e.ids for e in self.encode(texts)]
        finally:
            self.clear_cache()
        return got == [list(ids) for ids in expected]


def _pieces_cut_inside(parts: list[str], cuts: list[int]) -> set[str]:
    """The text pieces (even entries of ``parts``) that hold a cut strictly inside them."""
    if not cuts:
        return set()
    found: set[str] = set()
    char, c = 0, 0
    for k, part in enumerate(parts):
        end = char + len(part)
        while c < len(cuts) and cuts[c] <= char:
            c += 1
        if c < len(cuts) and cuts[c] < end and k % 2 == 0:
            found.add(part)
        char = end
    return found


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
