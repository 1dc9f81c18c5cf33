"""Every real record in ../shared/sources is either normalized or rejected with a reason, per source folder."""

from __future__ import annotations

import json

import pytest

from conftest import shared_path
from toolcall_templates.build.builder import SourceSpec, build_dataset

# folder -> (format hint or None for per-file detection, rejects allowed?)
FOLDERS = {
    "llamafactory_sharegpt_tools": (None, False),
    "llamafactory_v1_typed_content": (None, True),
    "glaive_v2_raw": (None, True),
    "openai_chat_tools": (None, True),
    "hermes_function_calling": (None, True),
    "toolbench_dfs_answers": ("toolbench", True),
    "bfcl": ("bfcl", True),
    "toolalpaca_eval": ("toolalpaca", True),
    "mistral_function_calling": ("openai", True),
    "glm4_chatglm3": ("glm4", True),
    "ms_swift_agent": (None, True),
}


@pytest.fixture(scope="module")
def shared_build(tmp_path_factory):
    specs = [SourceSpec(folder, str(shared_path("sources", folder)), fmt) for folder, (fmt, _) in FOLDERS.items()]
    out = tmp_path_factory.mktemp("shared") / "ds"
    result = build_dataset(specs, out, progress=False)
    print("\nconfig                          in    out  rejected  dup  warnings")
    for s in result.stats:
        print(f"{s.config:<30} {s.records_in:>4} {s.rows_out:>6} {s.rejected:>9} {s.duplicates:>4} {s.warnings:>9}")
    return out, {s.config: s for s in result.stats}


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_every_record_is_normalized_or_rejected_with_reason(shared_build, folder):
    out, stats = shared_build
    s = stats[folder]
    assert s.records_in > 0 and s.balanced()
    assert s.rows_out > 0, f"{folder}: nothing normalized ({dict(s.reject_reasons)})"
    rejects_file = out / "rejects" / f"{folder}.jsonl"
    rejects = [json.loads(line) for line in rejects_file.read_text().splitlines()] if rejects_file.exists() else []
    assert len(rejects) == s.rejected
    assert all(r["reason"] and r["ref"] for r in rejects)
    if not FOLDERS[folder][1]:
        assert s.rejected == 0, rejects[:3]


def test_llamafactory_glaive_demo_normalizes_completely(shared_build):
    _, stats = shared_build
    s = stats["llamafactory_sharegpt_tools"]
    assert (s.records_in, s.rejected) == (480, 0)
    assert s.rows_out + s.duplicates == 480
