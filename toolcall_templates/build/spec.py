"""What one source config of a build is: where its records come from, how to read them, and its place in the mix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SourceSpec:
    """One source config of the dataset."""

    config: str
    path: str
    """Local file or folder, or a Hub dataset id (``org/name``)."""
    format: str | None = None
    """Source format; detected per file from its first record when omitted."""
    options: dict[str, Any] = field(default_factory=dict)
    license: str | None = None
    language: str | None = None
    revision: str | None = None
    split: str = "train"
    hub_config: str | None = None
    data_files: Any = None
    description: str = ""
    homepage: str | None = None
    max_rows: int | None = None
    """Cap: the rows kept beyond the first ``max_rows`` (in input order, after every removal) are counted as
    ``capped`` and not written."""
    weight: float = 1.0
    """Mixing weight in the ``default`` config's train split: each train row appears ``floor(weight)`` times, and once
    more when its id hash falls below the fractional part (``split.copies``). The source's own config is unweighted."""
    eval: bool = False
    """An evaluation config: every row goes to its ``test`` split, it stays out of ``default``, is never
    decontaminated or removed as a near duplicate, and the training configs are decontaminated against it."""

    def check_curation(self) -> None:
        """ValueError naming the config when ``max_rows``, ``weight`` or ``eval`` is out of range."""
        if self.max_rows is not None and (isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int)
                                          or self.max_rows < 0):
            raise ValueError(f"source {self.config!r}: max_rows must be a whole number >= 0, got {self.max_rows!r}")
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) or not 0 <= self.weight < 1e6:
            raise ValueError(f"source {self.config!r}: weight must be a number >= 0, got {self.weight!r}")
        if not isinstance(self.eval, bool):
            raise ValueError(f"source {self.config!r}: eval must be true or false, got {self.eval!r}")
