"""Golden-file snapshots of the current-generation templates: the exact output and generation spans of the fixed
conversations of ``test_template_snapshots.py`` (tools, parallel calls, multi-turn, Chinese with reasoning, empty
content next to calls with JSON-text arguments and parameters). Files: ``tests/snapshots/<template>/<case>.txt`` and
``<case>.spans.json``; regenerate after an intended change with
``UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots_current.py`` and review the diff.
"""

from __future__ import annotations

import pytest

from test_template_snapshots import CASES, SNAPSHOTS
from test_template_snapshots import test_render_matches_golden_file as check_golden_file
from test_templates_current import CURRENT

TEMPLATES = (*sorted(CURRENT), "chatml-llamafactory")


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("template", TEMPLATES)
def test_render_matches_golden_file(template, case):
    """The same check as for the older templates (GLM's stop-token argument where the case asks for it)."""
    check_golden_file(template, case)


def test_snapshot_folders_have_no_stale_files():
    expected = {f"{t}/{c}{suffix}" for t in TEMPLATES for c in CASES for suffix in (".txt", ".spans.json")}
    present = {str(p.relative_to(SNAPSHOTS)) for p in SNAPSHOTS.rglob("*")
               if p.is_file() and p.parent.parent == SNAPSHOTS and p.parent.name in TEMPLATES}
    assert present == expected
