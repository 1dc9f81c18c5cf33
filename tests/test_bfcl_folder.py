"""A BFCL data folder is one BFCL source without ``--format bfcl`` (issue 8, point 5): its answers and function docs
are joined to the questions, never counted as records, in both the shared ``question/`` layout and the upstream
``bfcl_eval/data/`` layout (``BFCL_v4_*.json`` at the top, next to ``possible_answer/`` and ``multi_turn_func_doc/``).
"""

from __future__ import annotations

import json

from conftest import read_records, run_toolcall, shared_path
from toolcall_templates.build.builder import SourceSpec, build_dataset

# BFCL's own rejections: no ground truth exists, or functions arrive mid-conversation (see sources/bfcl.py)
KNOWN_REJECTIONS = ("live_relevance rows have no ground truth", "multi_turn_miss_func: functions")


def _questions(folder) -> int:
    return sum(len(read_records(path)) for path in sorted((folder / "question").glob("*.json")))


def test_shared_bfcl_folder_is_detected_and_joined(tmp_path):
    folder = shared_path("sources", "bfcl")
    out = tmp_path / "out"
    result = run_toolcall("build", "--source", f"bfcl={folder}", "--out", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    [source] = json.loads((out / "build_report.json").read_text())["sources"]
    assert source["format"] == "bfcl" and source["records_in"] == _questions(folder)
    assert source["rows_out"] > 0.9 * source["records_in"]
    assert all(any(known in reason for known in KNOWN_REJECTIONS) for reason in source["reject_reasons"]), \
        source["reject_reasons"]


def test_upstream_layout_and_single_question_file(tmp_path):
    shared = shared_path("sources", "bfcl")
    data = tmp_path / "bfcl_eval" / "data"
    data.mkdir(parents=True)
    for name in ("BFCL_v4_simple_python.json", "BFCL_v4_multi_turn_base.json", "BFCL_v4_irrelevance.json"):
        (data / name).symlink_to(shared / "question" / name)
    (data / "possible_answer").symlink_to(shared / "possible_answer", target_is_directory=True)
    (data / "multi_turn_func_doc").symlink_to(shared / "multi_turn_func_doc", target_is_directory=True)
    (data / "README.md").write_text("upstream readme\n")
    expected = sum(len(read_records(data / name)) for name in data.glob("BFCL_v4_*.json"))

    specs = [SourceSpec("upstream", str(data)), SourceSpec("one_file", str(data / "BFCL_v4_simple_python.json"))]
    stats = {s.config: s for s in build_dataset(specs, tmp_path / "out", progress=False).stats}
    upstream = stats["upstream"]
    assert (upstream.format, upstream.records_in, upstream.rejected) == ("bfcl", expected, 0)
    one_file = stats["one_file"]  # answers found next to it; every row a duplicate of the folder's
    assert (one_file.format, one_file.rejected) == ("bfcl", 0)
    assert one_file.records_in == one_file.duplicates == len(read_records(data / "BFCL_v4_simple_python.json"))
