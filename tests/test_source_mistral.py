"""Mistral fine-tuning records are plain OpenAI shape: the ``openai`` module normalizes them and keeps the 9-char ids."""

from __future__ import annotations

import json
import re

from conftest import shared_path

from toolcall_templates.normalize import normalize
from toolcall_templates.sources import detect_format

_NINE_ALNUM = re.compile(r"^[A-Za-z0-9]{9}$")


def _doc_records() -> list[tuple[str, dict]]:
    folder = shared_path("sources", "mistral_function_calling", "doc_examples")
    records = []
    for path in sorted(folder.iterdir()):
        if path.suffix in (".json", ".jsonl"):
            text = path.read_text(encoding="utf-8")
            try:
                document = json.loads(text)
                items = document if isinstance(document, list) else [document]
            except json.JSONDecodeError:
                items = [json.loads(line) for line in text.splitlines() if line.strip()]
            records += [(path.name, item) for item in items]
    return records


def test_doc_examples_are_detected_as_openai():
    records = _doc_records()
    assert records and all(detect_format(record) == "openai" for _, record in records)


def test_doc_examples_keep_nine_character_ids():
    for name, record in _doc_records():
        row = normalize(record, "openai")
        upstream_ids = [call["id"] for m in record["messages"] for call in m.get("tool_calls") or []]
        row_ids = [call["id"] for m in row["messages"] for call in m.get("tool_calls", [])]
        assert row_ids == upstream_ids and all(_NINE_ALNUM.match(i) for i in row_ids), name
        upstream_links = [m["tool_call_id"] for m in record["messages"] if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in row["messages"] if m["role"] == "tool"] == upstream_links, name
        assert row["warnings"] == [] and row["meta"]["format"] == "openai", name


def test_readme_example_exactly():
    _, record = next((n, r) for n, r in _doc_records() if n.startswith("mistral_finetune_README"))
    row = normalize(record, "openai")
    # mistral-finetune's system prompt is its Glaive preamble ("... has access to the following functions ..."):
    # with the tools declared in ``tools`` it is removed and kept in meta
    (removed,) = row["meta"]["removed_instructions"]
    assert removed["dropped"] and removed["spans"][0]["text"] == record["messages"][0]["content"]
    messages = [record["messages"][0], *row["messages"]]  # source indices below
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]
    assert messages[2] == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "TX92Jm8Zi", "type": "function", "function": {"name": "generate_anagram", "arguments": {"word": "listen"}}}]}
    assert messages[3] == {"role": "tool", "content": "{\"anagram\": \"silent\"}", "tool_call_id": "TX92Jm8Zi",
                           "name": "generate_anagram"}
    assert messages[-1]["tool_calls"][0]["id"] == "3XhQnxLsT"
    assert messages[-1]["tool_calls"][0]["function"]["arguments"] == {"word": "race"}
    assert row["tools"][0]["function"]["parameters"]["required"] == ["word"]
