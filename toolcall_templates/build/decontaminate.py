"""Decontamination: find training rows whose user turns match a turn of an evaluation set.

Two matches, on the normalized text of single user turns (``text_keys``: NFKC, casefold, punctuation and whitespace
collapsed):

* exact: a training turn equal to an evaluation turn, both of at least ``min_words`` tokens;
* n-gram overlap: a training turn sharing word ``ngram``-grams (13, as GPT-3's decontamination) with an evaluation
  turn, at least one and at least ``min_overlap`` of that evaluation turn's n-grams (0: one shared n-gram is enough,
  as in GPT-3; 0.5: half of the evaluation question must reappear).

The index holds hashes only (8 bytes per n-gram and per turn, plus a 4-byte turn number), in sorted numpy arrays
searched with ``searchsorted``: memory grows with the evaluation sets, never with the training data.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .eval_sets import eval_items
from .settings import Decontamination
from .spec import SourceSpec
from .text_keys import ngram_hashes, text_hash, tokens, user_texts


@dataclass
class Match:
    """Why a row counts as contaminated: the evaluation item it matches and how."""

    kind: str
    """``exact`` or ``ngram``."""
    eval_ref: str
    user_turn: int
    """Index of the matching turn among the row's user turns."""
    shared_ngrams: int = 0
    overlap: float = 1.0
    """Share of the evaluation turn's n-grams found in the training turn (1.0 for an exact match)."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "eval_ref": self.eval_ref, "user_turn": self.user_turn,
                "shared_ngrams": self.shared_ngrams, "overlap": round(self.overlap, 4)}


class ContaminationIndex:
    """Hashed user turns and n-grams of evaluation sets; ``match`` tells whether a row's user turns hit them."""

    def __init__(self, settings: Decontamination):
        self.settings = settings
        self.item_refs: list[str] = []
        self.references: list[dict[str, Any]] = []
        self._turn_items = array("I")
        self._turn_grams = array("I")
        self._exact_keys, self._exact_turns = array("Q"), array("I")
        self._gram_keys, self._gram_turns = array("Q"), array("I")
        self._frozen: tuple[np.ndarray, ...] | None = None

    @property
    def turns(self) -> int:
        return len(self._turn_items)

    def add_reference(self, spec: SourceSpec) -> None:
        """Index every record of the evaluation set ``spec`` (``SourceError`` when it cannot be read)."""
        local = Path(spec.path).expanduser()
        label = local.name if local.exists() else spec.path  # a local set by its name, never its full path
        counts = {"reference": label, "items": 0, "user_turns": 0, "items_without_user_text": 0}
        for item in eval_items(spec):
            counts["items"] += 1
            counts["user_turns"] += len(item.texts)
            counts["items_without_user_text"] += not item.texts
            if item.texts:
                self.add_item(item.ref, item.texts)
        self.references.append(counts)

    def add_item(self, ref: str, texts: list[str]) -> None:
        """Index the user turns ``texts`` of one evaluation item, known as ``ref``."""
        item = len(self.item_refs)
        self.item_refs.append(ref)
        for text in texts:
            words = tokens(text)
            turn = len(self._turn_items)
            grams = ngram_hashes(words, self.settings.ngram)
            self._turn_items.append(item)
            self._turn_grams.append(len(grams))
            if len(words) >= self.settings.min_words:
                self._exact_keys.append(text_hash(words))
                self._exact_turns.append(turn)
            self._gram_keys.extend(grams.tolist())
            self._gram_turns.extend([turn] * len(grams))
        self._frozen = None

    def match(self, row: dict[str, Any]) -> Match | None:
        """The first user turn of ``row`` that matches an evaluation turn, or None."""
        if not self.turns:
            return None
        exact_keys, exact_turns, gram_keys, gram_turns, turn_grams = self._arrays()
        for index, text in enumerate(user_texts(row)):
            words = tokens(text)
            if len(words) >= self.settings.min_words and len(exact_keys):
                key = np.uint64(text_hash(words))
                position = np.searchsorted(exact_keys, key)
                if position < len(exact_keys) and exact_keys[position] == key:
                    return Match("exact", self._ref(exact_turns[position]), index)
            grams = ngram_hashes(words, self.settings.ngram)
            found = self._ngram_match(grams, gram_keys, gram_turns, turn_grams, index)
            if found is not None:
                return found
        return None

    def _ngram_match(self, grams: np.ndarray, keys: np.ndarray, turns: np.ndarray, turn_grams: np.ndarray,
                     index: int) -> Match | None:
        if not len(grams) or not len(keys):
            return None
        low, high = np.searchsorted(keys, grams, "left"), np.searchsorted(keys, grams, "right")
        hits = high > low
        if not hits.any():
            return None
        matched = np.concatenate([turns[a:b] for a, b in zip(low[hits], high[hits])])
        candidates, shared = np.unique(matched, return_counts=True)
        overlap = shared / np.maximum(turn_grams[candidates], 1)
        best = int(np.lexsort((candidates, -shared, -overlap))[0])  # highest overlap, then most shared, then first
        if overlap[best] < self.settings.min_overlap:
            return None
        return Match("ngram", self._ref(candidates[best]), index, int(shared[best]), float(overlap[best]))

    def _ref(self, turn: int) -> str:
        return self.item_refs[self._turn_items[int(turn)]]

    def _arrays(self) -> tuple[np.ndarray, ...]:
        if self._frozen is None:
            self._frozen = (*_sorted(self._exact_keys, self._exact_turns), *_sorted(self._gram_keys, self._gram_turns),
                            np.array(self._turn_grams, dtype=np.int64))
        return self._frozen

    def summary(self) -> dict[str, Any]:
        """The method, its parameters and what was indexed, for the build report and the card."""
        return {"method": "normalized exact match of user turns, and word n-gram overlap",
                "ngram": self.settings.ngram, "min_overlap": self.settings.min_overlap,
                "min_words": self.settings.min_words, "eval_items": len(self.item_refs), "eval_user_turns": self.turns,
                "references": self.references}


def _sorted(keys: array, values: array) -> tuple[np.ndarray, np.ndarray]:
    key_array = np.frombuffer(keys, dtype=np.uint64) if len(keys) else np.empty(0, dtype=np.uint64)
    value_array = np.frombuffer(values, dtype=np.uint32) if len(values) else np.empty(0, dtype=np.uint32)
    order = np.argsort(key_array, kind="stable")
    return key_array[order], value_array[order]
