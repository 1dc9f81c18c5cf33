"""Rows from ``load_dataset`` go straight into the official Qwen2.5 and Llama 3.1 templates, with no post-processing."""

from __future__ import annotations

import json

import pytest
from datasets import load_dataset

from conftest import load_tokenizer, shared_path
from toolcall_templates.build.builder import SourceSpec, _normalized, build_dataset

FEED_SOURCES = {
    "llamafactory": ("sources", "llamafactory_sharegpt_tools"),
    "openai": ("sources", "openai_chat_tools"),
    "glaive": ("sources", "glaive_v2_raw"),
    "v1": ("sources", "llamafactory_v1_typed_content"),
}


@pytest.fixture(scope="module")
def built_rows(tmp_path_factory):
    specs = [SourceSpec(config, str(shared_path(*parts))) for config, parts in FEED_SOURCES.items()]
    out = tmp_path_factory.mktemp("feed") / "ds"
    build_dataset(specs, out, progress=False)
    loaded = load_dataset(str(out), split="train")
    normalized: dict = {}
    for spec in specs:
        for _, _, row, _ in _normalized(spec, False, 1):
            if row:
                normalized.setdefault(row["id"], row)  # the build keeps the first of duplicates too
    for row in loaded:
        original = normalized[row["id"]]
        assert (row["tools"], row["messages"]) == (original["tools"], original["messages"])
        assert all(row["meta"][key] == value for key, value in original["meta"].items())
    assert len(loaded) >= 400
    return loaded


def _calls(row):
    return [c for m in row["messages"] for c in m.get("tool_calls", [])]


def test_rows_decode_to_plain_dicts_without_null_padding(built_rows):
    for row in built_rows:
        for message in row["messages"]:
            assert None not in message.values(), message
            assert message["role"] in ("system", "user", "assistant", "tool")
        for call in _calls(row):
            assert isinstance(call["function"]["arguments"], dict)
        for tool in row["tools"] or []:
            assert isinstance(tool["function"]["parameters"], dict)
            assert tool["function"]["parameters"]["type"] == "object"


def test_qwen25_official_template_renders_every_row(built_rows):
    tokenizer = load_tokenizer("qwen2.5")
    for row in built_rows:
        text = tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False)
        for call in _calls(row):
            expected = json.dumps({"name": call["function"]["name"], "arguments": call["function"]["arguments"]},
                                  ensure_ascii=False)
            assert f"<tool_call>\n{expected}\n</tool_call>" in text
        for tool in row["tools"] or []:
            assert json.dumps(tool, ensure_ascii=False) in text
        assert text.count("<tool_response>") == sum(m["role"] == "tool" for m in row["messages"])


def test_llama31_official_template_renders_every_expressible_row(built_rows):
    tokenizer = load_tokenizer("llama3.1")
    rendered = skipped = 0
    for row in built_rows:
        if any(len(m.get("tool_calls", [])) > 1 for m in row["messages"]):
            skipped += 1  # the official Llama 3.1 template raises on parallel calls
            continue
        text = tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False,
                                             date_string="26 Jul 2024")
        rendered += 1
        assert ("Environment: ipython" in text) == bool(row["tools"])
        for call in _calls(row):
            args = json.dumps(call["function"]["arguments"], ensure_ascii=False)
            assert f'{{"name": "{call["function"]["name"]}", "parameters": {args}}}<|eot_id|>' in text
    assert rendered > 400 and skipped < rendered
