"""Build-wide settings beyond the sources: decontamination, near duplicates, the held-out split and the plots.

The same settings come from a recipe's top-level keys (``from_recipe``) and from ``toolcall build`` flags; a flag
overrides the recipe. Every value is checked here, so a wrong one is a ``ValueError`` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .spec import SourceSpec

NEAR_DUPLICATE_MODES = ("report", "remove", "off")
REFERENCE_KEYS = {"path", "format", "options", "revision", "data_files"}
RECIPE_KEYS = {"decontamination", "near_duplicates", "test_fraction", "plots"}


@dataclass
class Decontamination:
    """Training rows whose user turns match an evaluation set are removed (``decontaminate``)."""

    references: list[SourceSpec] = field(default_factory=list)
    """Evaluation sets: local files or folders (any format the build reads, BFCL folders, ``.txt`` lines) or Hub
    dataset ids (downloaded as files, only those matching ``data_files``). Eval configs of the build are added."""
    enabled: bool = True
    ngram: int = 13
    """Word n-gram size of the overlap match (GPT-3's 13); 0 turns the n-gram match off (exact match only)."""
    min_overlap: float = 0.0
    """Share of an evaluation turn's n-grams a training turn must contain; 0 means one shared n-gram is enough."""
    min_words: int = 4
    """Exact matches count only for turns of at least this many tokens ("yes", "thanks" are no contamination)."""

    def check(self) -> None:
        _check_int("decontamination.ngram", self.ngram, 0)
        _check_int("decontamination.min_words", self.min_words, 1)
        _check_fraction("decontamination.min_overlap", self.min_overlap)


@dataclass
class NearDuplicates:
    """MinHash/LSH near-duplicate detection over user turns and calls (``near_duplicates``)."""

    mode: str = "report"
    """``report`` (count per source pair, keep the rows), ``remove`` (keep the first by recipe order) or ``off``."""
    threshold: float = 0.8
    """Estimated Jaccard similarity of the shingle sets at or above which two rows are near duplicates."""
    num_perm: int = 128

    def check(self) -> None:
        if self.mode not in NEAR_DUPLICATE_MODES:
            raise ValueError(f"near_duplicates.mode must be one of {', '.join(NEAR_DUPLICATE_MODES)}, "
                             f"got {self.mode!r}")
        _check_fraction("near_duplicates.threshold", self.threshold, low_open=True)
        _check_int("near_duplicates.num_perm", self.num_perm, 16)


@dataclass
class BuildSettings:
    """Everything a build does besides normalizing: see the module docstring."""

    decontamination: Decontamination = field(default_factory=Decontamination)
    near_duplicates: NearDuplicates = field(default_factory=NearDuplicates)
    test_fraction: float = 0.0
    """Share of each training config's rows held out as its ``test`` split, chosen by row id hash (``split``)."""
    plots: bool = True
    """Draw the card's plots (``images/``); a temporary build that nobody reads may skip them."""
    plot_tokenizer: str | None = None
    """Tokenizer (local folder or Hub id) for the tokens-per-row plot; without one that plot is skipped."""
    token_sample: int = 1000
    """Rows per config rendered for the tokens-per-row plot (the lowest id hashes: the same rows on every build)."""

    def check(self) -> None:
        self.decontamination.check()
        self.near_duplicates.check()
        _check_fraction("test_fraction", self.test_fraction, high_open=True)
        _check_int("plots.sample", self.token_sample, 1)


def from_recipe(document: dict[str, Any], where: str) -> BuildSettings:
    """The settings of a recipe's top-level keys (``decontamination``, ``near_duplicates``, ``test_fraction``,
    ``plots``); absent keys keep their defaults."""
    settings = BuildSettings()
    decontamination = _mapping(document.get("decontamination"), f"{where}: decontamination",
                               {"references", "enabled", "ngram", "min_overlap", "min_words"})
    references = decontamination.pop("references", [])
    if not isinstance(references, list):
        raise ValueError(f"{where}: decontamination.references must be a list")
    settings.decontamination = Decontamination(
        references=[reference_spec(entry, f"{where}: decontamination.references[{i}]")
                    for i, entry in enumerate(references)], **decontamination)
    near = _mapping(document.get("near_duplicates"), f"{where}: near_duplicates", {"mode", "threshold", "num_perm"})
    settings.near_duplicates = NearDuplicates(**near)
    plots = _mapping(document.get("plots"), f"{where}: plots", {"tokenizer", "sample"})
    settings.plot_tokenizer = plots.get("tokenizer")
    settings.token_sample = plots.get("sample", settings.token_sample)
    settings.test_fraction = document.get("test_fraction", 0.0)
    settings.check()
    return settings


def reference_spec(entry: Any, where: str) -> SourceSpec:
    """An evaluation set as a source spec: a path or Hub id, or a mapping of ``REFERENCE_KEYS``."""
    if isinstance(entry, str) and entry:
        return SourceSpec(config=entry, path=entry)
    values = _mapping(entry, where, REFERENCE_KEYS)
    if not isinstance(values.get("path"), str) or not values["path"]:
        raise ValueError(f"{where} needs a 'path' (a local path or a Hub dataset id)")
    return SourceSpec(config=values["path"], **values)


def _mapping(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping")
    unknown = set(value) - allowed
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return dict(value)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")


def _check_fraction(name: str, value: Any, *, low_open: bool = False, high_open: bool = False) -> None:
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and (value > 0 if low_open else value >= 0) and (value < 1 if high_open else value <= 1))
    if not ok:
        low, high = "(0" if low_open else "[0", "1)" if high_open else "1]"
        raise ValueError(f"{name} must be a number in {low}, {high}, got {value!r}")
