"""What happens to a normalized, deduplicated row: removed as contaminated, capped or a near duplicate, or kept in a
split. In that order, so each removed row is counted once, under the first reason that applies:

1. contaminated: a user turn matches an evaluation set (training configs only; ``decontaminate``);
2. capped: its source already has ``max_rows`` rows;
3. near duplicate: an earlier row is a near duplicate and near duplicates are removed (training configs only;
   with ``report`` it is only counted);
4. kept: in ``test`` (every row of an eval config; ``test_fraction`` of the others by id hash) or ``train``.

The rows of eval configs join the decontamination index as they are kept, so the training configs built after them
(eval configs are built first) are decontaminated against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .decontaminate import ContaminationIndex
from .near_duplicates import NearDuplicateIndex
from .settings import BuildSettings
from .spec import SourceSpec
from .split import split_of
from .stats import SourceStats
from .text_keys import user_texts


@dataclass
class Outcome:
    """The fate of one row: ``kind`` is ``keep``, ``contaminated``, ``capped`` or ``near_duplicate``."""

    kind: str
    split: str = "train"
    record: dict[str, Any] | None = None
    """What is written to ``<kind>/<config>.jsonl`` for a removed row (none for a capped one)."""


class Curation:
    """The decontamination and near-duplicate indexes of one build, and the per-row decision."""

    def __init__(self, settings: BuildSettings, sources: list[SourceSpec]):
        self.settings = settings
        decontamination = settings.decontamination
        self.contamination: ContaminationIndex | None = None
        if decontamination.enabled and (decontamination.references or any(spec.eval for spec in sources)):
            self.contamination = ContaminationIndex(decontamination)
        mode = settings.near_duplicates.mode
        self.near = NearDuplicateIndex(settings.near_duplicates) if mode != "off" else None

    def read_references(self) -> None:
        """Index the evaluation sets of the settings (``SourceError`` when one cannot be read)."""
        if self.contamination is not None:
            for spec in self.settings.decontamination.references:
                self.contamination.add_reference(spec)

    def decide(self, row: dict[str, Any], spec: SourceSpec, stats: SourceStats) -> Outcome:
        """The outcome of ``row`` of source ``spec``; the removal counters of ``stats`` are updated here."""
        if self.contamination is not None and not spec.eval:
            match = self.contamination.match(row)
            if match is not None:
                stats.contaminated += 1
                return Outcome("contaminated", record=_removed(row, "match", match.to_dict()))
        if spec.max_rows is not None and stats.rows_out >= spec.max_rows:
            stats.capped += 1
            return Outcome("capped")
        if self.near is not None:
            near = self.near.check(row)
            if near is None:
                self.near.add_checked(spec.config, row["id"])
            else:
                stats.near_duplicates_found += 1
                self.near.count_pair(near, spec.config, row["id"])
                if self.settings.near_duplicates.mode == "remove" and not spec.eval:
                    stats.near_duplicates_removed += 1
                    return Outcome("near_duplicate", record=_removed(row, "near_duplicate_of", {
                        "config": near.config, "id": near.row_id, "similarity": round(near.similarity, 3)}))
        if spec.eval:
            if self.contamination is not None:
                self.contamination.add_item(f"{spec.config}:{row['meta'].get('ref', row['id'])}", user_texts(row))
            return Outcome("keep", "test")
        return Outcome("keep", split_of(row["id"], self.settings.test_fraction))

    def summary(self) -> dict[str, Any]:
        """The ``decontamination`` and ``near_duplicates`` sections of the build report (None when off)."""
        return {"decontamination": self.contamination.summary() if self.contamination is not None else None,
                "near_duplicates": self.near.summary() if self.near is not None else None}


def _removed(row: dict[str, Any], key: str, why: dict[str, Any]) -> dict[str, Any]:
    return {"ref": row["meta"].get("ref"), "id": row["id"], key: why, "row": row}
