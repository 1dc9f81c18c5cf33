"""Golden-file snapshots of the current-generation templates: the exact output and generation spans of the fixed
conversations of ``test_template_snapshots.py`` (tools, parallel calls, multi-turn, Chinese with reasoning, empty
content next to calls with JSON-text arguments and parameters). Files: ``tests/snapshots/<template>/<case>.txt`` and
``<case>.spans.json``; regenerate after an intended change with
``UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots_current.py`` and review the diff.
"""

from __future__ import annotations

import json
import os

import pytest

from test_template_snapshots import CASES, SNAPSHOTS
from test_templates_current import CURRENT
from toolcall_templates.templates import get_template, render

TEMPLATES = (*sorted(CURRENT), "chatml-llamafactory")


def _render(template: str, case: str) -> tuple[str, list[list[int]]]:
    messages, tools, extra = CASES[case]
    spec = get_template(template)
    kwargs = {key: value for key, value in extra.items() if key == spec.stop_token_kwarg}
    text, spans = render(template, messages, tools, **kwargs)
    return text, [list(span) for span in spans]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("template", TEMPLATES)
def test_render_matches_golden_file(template, case):
    text, spans = _render(template, case)
    text_file = SNAPSHOTS / template / f"{case}.txt"
    spans_file = SNAPSHOTS / template / f"{case}.spans.json"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        text_file.parent.mkdir(parents=True, exist_ok=True)
        text_file.write_bytes(text.encode("utf-8"))
        spans_file.write_text(json.dumps(spans) + "\n", encoding="utf-8")
    assert text_file.exists(), f"missing snapshot {text_file}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text.encode("utf-8") == text_file.read_bytes()
    assert spans == json.loads(spans_file.read_text(encoding="utf-8"))


def test_snapshot_folders_have_no_stale_files():
    expected = {f"{t}/{c}{suffix}" for t in TEMPLATES for c in CASES for suffix in (".txt", ".spans.json")}
    present = {str(p.relative_to(SNAPSHOTS)) for p in SNAPSHOTS.rglob("*")
               if p.is_file() and p.parent.parent == SNAPSHOTS and p.parent.name in TEMPLATES}
    assert present == expected
