"""``build_report.json``: the accounting of every record per source, and what the build did besides normalizing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .settings import BuildSettings
from .stats import SourceStats

INVARIANT = ("records_in == rows_out + rejected + duplicates_removed + contaminated + near_duplicates_removed + "
             "capped, and rows_out == rows_train + rows_test")
TOTAL_KEYS = ("records_in", "rows_out", "rejected", "duplicates_removed", "contaminated", "near_duplicates_removed",
              "capped", "near_duplicates_found", "rows_train", "rows_test", "rows_with_warnings", "warnings",
              "assistant_turns", "tool_calls")


def build_report(stats: list[SourceStats], *, strict: bool, settings: BuildSettings, curation: dict[str, Any],
                 mix: dict[str, int] | None, plots: dict[str, Any]) -> dict[str, Any]:
    """The report of a build: per source counts (``SourceStats.to_dict``), totals and the build-wide sections."""
    per_source = [s.to_dict() for s in stats]
    totals = {key: sum(s[key] for s in per_source) for key in TOTAL_KEYS}
    totals["unreadable_files"] = sum(len(s.unreadable_files) for s in stats)
    totals["instructions_removed"] = sum(s.instructions_removed for s in stats)
    return {
        "strict": strict,
        "invariant": INVARIANT,
        "invariant_holds": all(s.balanced() for s in stats),
        "totals": totals,
        "split": {"test_fraction": settings.test_fraction, "method": "sha256 of the row id (salted) below "
                  "test_fraction; every row of an eval config is in test"},
        "mix": {"weights": {s.config: s.weight for s in stats if not s.eval},
                "default_train_rows": mix} if mix is not None else None,
        **curation,
        "plots": plots,
        "sources": per_source,
    }


def write_report(root: Path, report: dict[str, Any]) -> None:
    (root / "build_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
