"""Batched tokenization of rendered conversations, split at control tokens so that recurring pieces are encoded once.

A fast tokenizer cuts its input at added tokens before it normalizes, pre-tokenizes and runs its model, and each
piece between two added tokens is encoded on its own. Encoding those pieces separately and concatenating the ids is
therefore the same as encoding the whole text, provided the added tokens do not strip neighbouring whitespace
(``lstrip`` / ``rstrip`` / ``single_word``) and are matched on raw text. Pieces that recur across rows (system
prompts, tool definitions, role names) are then encoded once and reused from a bounded cache. The equivalence is
probed on every tokenizer when the encoder is built; a tokenizer that fails the probe (e.g. a SentencePiece
``Metaspace`` pre-tokenizer that prefixes only the first piece) is encoded whole, text by text, in one batch call.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from .control_tokens import ControlTokenTable, encode_as_text

DEFAULT_CACHE_TOKENS = 1_000_000
"""Tokens kept in the piece cache; when it overflows, only the pieces hit since the last overflow are kept."""

_PROBE_CONTEXTS = ("", "a", " b", "\n", "\n\n", "  c  ", "Hello world.", "中文字符", " {\"k\": [1, 2]}\n", "\t x")


@dataclass
class EncodedText:
    """Ids of one text plus what is needed to map character spans to token positions."""

    ids: list[int]
    pieces: list[tuple[int, int, Any, Any]]
    """``(char_start, token_start, starts, ends)`` per piece; ``starts``/``ends`` are offsets inside the piece."""
    piece_chars: list[int]
    """``char_start`` of each piece (sorted), for bisection."""

    def token_range(self, char_start: int, char_end: int) -> tuple[int, int]:
        """Token positions ``[a, b)`` of every token that overlaps the character span ``[char_start, char_end)``."""
        if char_end <= char_start or not self.pieces:
            return 0, 0
        return self._first_token_ending_after(char_start), self._tokens_starting_before(char_end)

    def _first_token_ending_after(self, char: int) -> int:
        k = max(bisect_right(self.piece_chars, char) - 1, 0)
        while k < len(self.pieces):
            base, token_base, _, ends = self.pieces[k]
            local = bisect_right(ends, char - base)
            if local < len(ends):
                return token_base + local
            k += 1
        return len(self.ids)

    def _tokens_starting_before(self, char: int) -> int:
        k = max(bisect_right(self.piece_chars, char - 1) - 1, 0)
        base, token_base, starts, _ = self.pieces[k]
        return token_base + bisect_left(starts, char - base)


class SegmentEncoder:
    """Encode many rendered texts with one batched tokenizer call, reusing pieces already seen."""

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
        self._cache: dict[str, tuple[list[int], list[int], list[int]]] = {}
        self._cached_tokens = 0
        self._hits: set[str] = set()
        self._boundary_ids = _boundary_tokens(tokenizer)
        self._splitter = (
            re.compile("(" + "|".join(map(re.escape, sorted(self._boundary_ids, key=len, reverse=True))) + ")")
            if self._boundary_ids else None
        )
        self.stats = {"pieces": 0, "pieces_encoded": 0, "chars_encoded": 0}
        self.split_exact = self._splitter is not None and self._probe()
        self.stats = dict.fromkeys(self.stats, 0)

    # -- public ------------------------------------------------------------------------------------------------
    def encode(self, texts: list[str], escaped: "list[bool] | None" = None) -> list[EncodedText]:
        """Encode ``texts``; ``escaped[i]`` marks a text holding sentinel characters (see ``control_tokens``)."""
        escaped = escaped or [False] * len(texts)
        if not self.split_exact:
            return self._encode_whole(texts, escaped)
        split_texts = [self._splitter.split(text) for text in texts]
        self._encode_missing(split_texts, escaped)
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
    def _encode_missing(self, split_texts: list[list[str]], escaped: list[bool]) -> None:
        cache = self._cache
        needed: dict[str, None] = {}
        for parts, esc in zip(split_texts, escaped):
            for piece in parts[0::2]:
                if piece and not (esc and self.control.has_sentinel(piece)):
                    needed[piece] = None
        todo = [piece for piece in needed if piece not in cache]
        if not todo:
            return
        encodings = self.backend.encode_batch(todo, add_special_tokens=False)
        self.stats["pieces_encoded"] += len(todo)
        self.stats["chars_encoded"] += sum(map(len, todo))
        added = 0
        for piece, encoding in zip(todo, encodings):
            offsets = encoding.offsets
            cache[piece] = (encoding.ids, [s for s, _ in offsets], [e for _, e in offsets])
            added += len(offsets)
        self._cached_tokens += added
        if self._cached_tokens > self.cache_tokens:
            self._evict(keep=needed.keys() | self._hits)

    def _evict(self, keep: set[str]) -> None:
        """Keep the pieces of the current batch and those reused since the last eviction."""
        self._cache = {k: v for k, v in self._cache.items() if k in keep}
        self._cached_tokens = sum(len(v[0]) for v in self._cache.values())
        self._hits = set()

    def _assemble(self, parts: list[str], escaped: bool) -> EncodedText:
        cache, hits, boundary = self._cache, self._hits, self._boundary_ids
        ids: list[int] = []
        pieces: list[tuple[int, int, Any, Any]] = []
        piece_chars: list[int] = []
        char = 0
        for k, part in enumerate(parts):
            if not part:
                continue
            if k % 2:
                entry: tuple[Any, Any, Any] = ([boundary[part]], (0,), (len(part),))
            elif escaped and self.control.has_sentinel(part):
                entry = self._encode_escaped(part)
            else:
                entry = cache[part]
                hits.add(part)
            pieces.append((char, len(ids), entry[1], entry[2]))
            piece_chars.append(char)
            ids.extend(entry[0])
            char += len(part)
        self.stats["pieces"] += len(pieces)
        return EncodedText(ids, pieces, piece_chars)

    def _encode_escaped(self, part: str) -> tuple[list[int], list[int], list[int]]:
        """Encode a piece holding sentinels as the literal text; offsets stay in the sentinel text's coordinates."""
        restored_to_part: list[int] = []
        for position, char in enumerate(part):
            literal = self.control.literal_of.get(char)
            restored_to_part.extend([position] * (len(literal) if literal is not None else 1))
        ids, starts, ends = encode_as_text(self.backend, self.control.restore(part))
        return ids, [restored_to_part[s] for s in starts], [restored_to_part[e - 1] + 1 for e in ends]

    # -- whole-text mode ---------------------------------------------------------------------------------------
    def _encode_whole(self, texts: list[str], escaped: list[bool]) -> list[EncodedText]:
        if any(escaped):
            raise ValueError(
                "escaping control tokens needs a tokenizer whose added tokens split its input exactly; "
                f"{type(self.tokenizer).__name__} does not (use control_tokens='reject')"
            )
        batch = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for ids, offsets in zip(batch["input_ids"], batch["offset_mapping"]):
            starts = [s for s, _ in offsets]
            ends = [e for _, e in offsets]
            out.append(EncodedText(list(ids), [(0, 0, starts, ends)], [0]))
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


def _boundary_tokens(tokenizer: Any) -> dict[str, int]:
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
