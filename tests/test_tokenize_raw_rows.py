"""``tokenize_dataset`` / ``tokenize_conversation`` on rows that are not canonical (issue 8, point 3): normalized on the
fly, with the ids and labels of building first; never a null-padded schema in a rendered text; rows that cannot be
normalized counted with their reason, and a dataset with none refused with what to do."""

from __future__ import annotations

import json
import logging

import pytest

from conftest import load_tokenizer, read_records, requires_shared, run_toolcall, shared_path

from toolcall_templates import features, load_unified, normalize, tokenize_conversation, tokenize_dataset
from toolcall_templates.tokenization.tokenize import ConversationDropped

WEATHER = {"messages": [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    {"role": "assistant", "content": "18C in Paris."}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}
SEARCH = {"messages": [
    {"role": "user", "content": "Search cats"},
    {"role": "assistant", "content": "Sure.", "tool_calls": [
        {"id": "call_2", "type": "function", "function": {"name": "search", "arguments": "{\"q\": \"cats\", \"k\": 3}"}}]},
    {"role": "tool", "tool_call_id": "call_2", "content": "[\"a cat\"]"},
    {"role": "assistant", "content": "Found one."}],
    "tools": [{"type": "function", "function": {"name": "search", "description": "Search", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}, "k": {"type": "integer"}}, "required": ["q"]}}}]}


def canonical_tokens(records, tokenizer) -> list[tuple[list[int], list[int]]]:
    from datasets import Dataset

    rows = [normalize(record) for record in records]
    out = tokenize_dataset(Dataset.from_list(rows, features=features()), tokenizer, desc=None)
    return [(r["input_ids"], r["labels"]) for r in out]


def test_openai_records_from_list_are_normalized_never_a_null_padded_schema():
    from datasets import Dataset

    tokenizer = load_tokenizer("qwen2.5")
    dataset = Dataset.from_list([WEATHER, SEARCH])
    padded = dataset[0]["tools"][0]["function"]["parameters"]["properties"]
    assert padded["q"] is None  # Arrow gave the weather tool the search tool's properties, as null
    out, report = tokenize_dataset(dataset, tokenizer, return_report=True, desc=None)
    assert report.rows_in == report.rows_out == 2, report.to_dict()  # the content: null row is kept
    assert [(r["input_ids"], r["labels"]) for r in out] == canonical_tokens([WEATHER, SEARCH], tokenizer)
    text = tokenizer.decode(out[0]["input_ids"])
    assert '"properties": {"city": {"type": "string"}}, "required": ["city"]' in text and "null" not in text
    assert '{"name": "get_weather", "arguments": {"city": "Paris"}}' in text


def test_tokenize_conversation_normalizes_raw_and_arrow_padded_rows():
    from datasets import Dataset

    tokenizer = load_tokenizer("qwen2.5")
    expected = canonical_tokens([WEATHER], tokenizer)[0]
    padded_row = Dataset.from_list([WEATHER, SEARCH])[0]  # what a user gets from ds[0]
    for row in (WEATHER, padded_row, normalize(WEATHER)):
        encoded = tokenize_conversation(row, tokenizer)
        assert (encoded["input_ids"], encoded["labels"]) == expected
    with pytest.raises(ConversationDropped) as caught:
        tokenize_conversation({"conversations": "not a list"}, tokenizer)
    assert caught.value.drop_reason == "invalid_row" and "toolcall build" in str(caught.value)


def test_rows_that_cannot_be_normalized_are_counted_with_their_reason(caplog):
    from datasets import Dataset

    tokenizer = load_tokenizer("qwen2.5")
    no_result_call = {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "orphan result"},
                                   {"role": "assistant", "content": "y"}]}
    dataset = Dataset.from_list([WEATHER, no_result_call, SEARCH])
    with caplog.at_level(logging.WARNING):
        out, report = tokenize_dataset(dataset, tokenizer, return_report=True, desc=None)
    assert (report.rows_in, report.rows_out, dict(report.dropped)) == (3, 2, {"invalid_row": 1})
    assert report.examples["invalid_row"] == ["row 1: not canonical, and normalize rejected it: "
                                              "tool result #0 answers no preceding tool call"]
    assert "invalid_row=1" in caplog.text and len(out) == 2


def test_a_dataset_with_no_row_normalize_accepts_is_refused_with_what_to_do():
    from datasets import Dataset

    with pytest.raises(ValueError, match=r"none of the 2 rows .*toolcall build --source"):
        tokenize_dataset(Dataset.from_list([{"text": "plain text"}, {"text": "more"}]), load_tokenizer("qwen2.5"),
                         desc=None)


# -- real sources: tokenizing the raw rows gives what building first and tokenizing the built folder gives ---------
@requires_shared
def test_raw_shared_sources_tokenize_like_the_built_dataset(tmp_path):
    """Normalization does not depend on the template: one tokenizer is enough to compare ids and labels."""
    from datasets import Dataset, load_dataset

    tokenizer = load_tokenizer("qwen2.5")
    openai_dir = shared_path("sources", "openai_chat_tools")
    glaive_dir = shared_path("sources", "llamafactory_sharegpt_tools")
    result = run_toolcall("build", "--source", f"openai={openai_dir}", "--source", f"glaive={glaive_dir}",
                          "--out", tmp_path / "built")
    assert result.returncode == 0, result.stderr
    built = tokenize_dataset(load_unified(str(tmp_path / "built")), tokenizer, keep_columns=["id"], desc=None)
    by_id = {row["id"]: (row["input_ids"], row["labels"]) for row in built}
    files = [*sorted(openai_dir.glob("minpeter_apigen_mt_repro/*.jsonl")), openai_dir / "functionary_tests" /
             "test_case_v1.json", glaive_dir / "glaive_toolcall_en_demo.json", glaive_dir / "glaive_toolcall_zh_demo.json"]
    compared = 0
    for path in files:
        records = read_records(path)
        ids = [normalize(record)["id"] for record in records]
        as_loaded = load_dataset("json", data_files=str(path), split="train")
        for dataset in (Dataset.from_list(records), as_loaded):
            out, report = tokenize_dataset(dataset, tokenizer, return_report=True, desc=None)
            assert report.rows_out == len(records) == len(out), (path.name, report.to_dict())
            for row_id, row in zip(ids, out):
                assert (row["input_ids"], row["labels"]) == by_id[row_id], (path.name, row_id)
                compared += 1
    assert compared == 2 * (10 + 1 + 1 + 240 + 240)


@requires_shared
def test_canonical_rows_stored_as_arrow_structs_tokenize_like_the_canonical_storage(tmp_path):
    from datasets import Dataset

    tokenizer = load_tokenizer("qwen2.5")
    records = [WEATHER, SEARCH, *read_records(shared_path(
        "sources", "openai_chat_tools", "minpeter_apigen_mt_repro",
        "apigen_mt_dataset_deepseek-r1_fc_deepseek-r1_final_20250502_231501.jsonl"))]
    rows = [json.loads(json.dumps(normalize(record))) for record in records]
    as_structs = Dataset.from_list(rows)  # no features: messages and tools become null-padded structs
    assert any(None in m.values() for m in as_structs[0]["messages"])
    assert as_structs[0]["tools"][0]["function"]["parameters"]["properties"]["q"] is None
    out = tokenize_dataset(as_structs, tokenizer, desc=None)
    assert [(r["input_ids"], r["labels"]) for r in out] == canonical_tokens(records, tokenizer)


def test_numbers_arrow_turned_into_floats_are_named_in_a_warning(caplog):
    from datasets import Dataset

    limited = json.loads(json.dumps(SEARCH))
    limited["tools"][0]["function"]["parameters"]["properties"]["k"]["maximum"] = 10
    fractional = json.loads(json.dumps(WEATHER))
    fractional["tools"][0]["function"]["parameters"]["properties"]["k"] = {"type": "number", "maximum": 0.5}
    with caplog.at_level(logging.WARNING):
        tokenize_dataset(Dataset.from_list([limited, fractional]), load_tokenizer("qwen2.5"), desc=None)
    assert "tools[].function.parameters.properties.k.maximum as floats" in caplog.text
    assert "toolcall build" in caplog.text


def test_a_dataset_whose_first_record_has_no_tools_is_named_in_a_warning(caplog):
    """Dataset.from_list takes its columns from the first record: without a 'tools' key there, the column is absent
    and every row would be tokenized with no tools declared; the warning says so and what to do."""
    from datasets import Dataset

    chat = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
    dataset = Dataset.from_list([chat, WEATHER])
    assert "tools" not in dataset.column_names
    with caplog.at_level(logging.WARNING):
        tokenize_dataset(dataset, load_tokenizer("qwen2.5"), desc=None)
    assert "no 'tools' column" in caplog.text and "Dataset.from_list" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        tokenize_dataset(Dataset.from_list([{**chat, "tools": None}, WEATHER]), load_tokenizer("qwen2.5"), desc=None)
    assert "no 'tools' column" not in caplog.text
