"""Every JSON value of a canonical row (tool schemas, call arguments, tool results, meta) comes back exactly, with
its type and key order, through every way people handle a ``datasets.Dataset`` (issue 8, point 7).

``datasets`` alone writes ``Json()`` values with ten decimals (``8.854e-12`` -> ``0.0``) and reads them with a fast
float parser (``0.3`` -> ``0.30000000000000004``); ``toolcall_templates.exact_json`` replaces both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from toolcall_templates import features, load_unified, normalize

# -- random JSON values --------------------------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # any unicode but lone surrogates
NUMBERS = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.integers(min_value=2**64, max_value=2**200).flatmap(lambda n: st.sampled_from([n, -n])),  # beyond int64/uint64
    st.floats(allow_nan=False, allow_infinity=False),  # subnormals, huge and tiny floats, -0.0 included
    st.sampled_from([0.3, 0.95, 8.854e-12, 1.256e-06, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                     1e16, 123456789.123456789, 1.0, 10]),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, TEXT),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12,
)


def canonical_row(values: list) -> dict:
    """A canonical row (``normalize`` of an OpenAI record) holding ``values`` in a tool schema, call arguments, a
    tool result and meta."""
    schema_default, argument, nested, result, meta = values
    record = {
        "messages": [
            {"role": "user", "content": "compute"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_0", "type": "function", "function": {
                "name": "compute", "arguments": json.dumps({"x": argument, "nested": {"deep": [nested]}})}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": json.dumps(result, ensure_ascii=False)},
            {"role": "assistant", "content": "done"},
        ],
        "tools": [{"type": "function", "function": {"name": "compute", "description": "d", "parameters": {
            "type": "object", "properties": {"x": {"description": "any", "default": schema_default}}}}}],
    }
    row = normalize(record)
    row["meta"]["payload"] = meta
    return row


def exact(value) -> str:
    """A text that differs whenever values differ in type (1 vs 1.0), sign of zero, digits or key order."""
    return json.dumps(value, ensure_ascii=False)


def assert_rows_exact(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for row, want in zip(got, expected):
        for column in ("id", "tools", "messages", "meta"):
            assert exact(row[column]) == exact(want[column]), column


# -- the paths -----------------------------------------------------------------------------------------------------
def from_list(rows, folder):
    from datasets import Dataset

    return Dataset.from_list(rows, features=features())


def through_map(rows, folder):
    return from_list(rows, folder).map(lambda row: row)


def through_select(rows, folder):
    dataset = from_list(rows, folder)
    return dataset.select(range(len(dataset))).flatten_indices()


def through_disk(rows, folder):
    from datasets import load_from_disk

    from_list(rows, folder).save_to_disk(str(folder / "saved"))
    return load_from_disk(str(folder / "saved"))


def through_hub_parquet(rows, folder):
    """The layout ``push_to_hub`` writes: parquet shards carrying the features, read back by ``load_dataset``."""
    from datasets import load_dataset

    (folder / "data").mkdir()
    from_list(rows, folder).to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    return load_dataset("parquet", data_files=str(folder / "data" / "*.parquet"), split="train")


PATHS = {"from_list": from_list, "map": through_map, "select_flatten_indices": through_select,
         "save_load_from_disk": through_disk, "push_to_hub_parquet": through_hub_parquet}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(JSON_VALUES, min_size=5, max_size=5), min_size=1, max_size=4))
def test_random_json_values_survive_every_dataset_path(rows_values):
    rows = [canonical_row(values) for values in rows_values]
    for name, path in PATHS.items():
        with tempfile.TemporaryDirectory() as folder:
            dataset = path(rows, Path(folder))
            assert_rows_exact(list(dataset), rows)
            assert_rows_exact(dataset.to_list(), rows)
            assert_rows_exact([dataset[i] for i in range(len(dataset))], rows)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(JSON_VALUES, min_size=5, max_size=5), min_size=1, max_size=4))
def test_random_json_values_survive_a_build_and_load_unified(rows_values):
    """``build_dataset`` (what ``toolcall build`` runs) from a JSON-lines source, then ``load_unified`` and a
    ``map`` that really changes the rows."""
    from toolcall_templates.build import SourceSpec, build_dataset

    rows = [canonical_row(values) for values in rows_values]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "rows.jsonl"
        source.write_text("".join(json.dumps({"messages": r["messages"], "tools": r["tools"]}) + "\n" for r in rows),
                          encoding="utf-8")
        build_dataset([SourceSpec("s", str(source))], Path(folder) / "built", progress=False)
        loaded = load_unified(str(Path(folder) / "built"))
        by_id = {row["id"]: row for row in loaded}
        assert set(by_id) == {row["id"] for row in rows}
        for row in rows:
            assert exact(by_id[row["id"]]["messages"]) == exact(row["messages"])
            assert exact(by_id[row["id"]]["tools"]) == exact(row["tools"])
        changed = loaded.map(lambda row: {"meta": {**row["meta"], "payload": [row["messages"][1], row["tools"]]}})
        for row in changed:
            assert exact(row["meta"]["payload"]) == exact([by_id[row["id"]]["messages"][1], by_id[row["id"]]["tools"]])


# -- the values of the issue, through the doors users take ----------------------------------------------------------
TRICKY = {"epsilon": 8.854e-12, "p": 0.3, "neg_zero": -0.0, "subnormal": 5e-324, "max": 1.7976931348623157e308,
          "int": 10, "float": 10.0, "beyond_int64": 2**70, "text": "北京 😀 é"}


def tricky_record() -> dict:
    return {"messages": [
        {"role": "user", "content": "Force between two charges?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "coulomb", "arguments": json.dumps(TRICKY)}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"force\": 1e-300}"},
        {"role": "assistant", "content": "About 1e-300 N."}],
        "tools": [{"type": "function", "function": {"name": "coulomb", "description": "Coulomb force", "parameters": {
            "type": "object", "properties": {"epsilon": {"type": "number", "default": 8.854e-12}}}}}]}


def test_issue_values_survive_from_list_and_select_flatten_indices():
    from datasets import Dataset

    row = normalize(tricky_record())
    dataset = Dataset.from_list([row], features=features())
    for copy in (dataset, dataset.select([0]).flatten_indices()):
        arguments = copy[0]["messages"][1]["tool_calls"][0]["function"]["arguments"]
        assert exact(arguments) == exact(TRICKY) and repr(arguments["p"]) == "0.3"
        assert arguments["epsilon"] == 8.854e-12 and str(arguments["neg_zero"]) == "-0.0"


def test_values_that_are_not_json_are_still_stored_as_datasets_stored_them():
    import numpy as np
    from datasets import Dataset, Features, Json

    value = {"f32": np.float32(0.5), "i64": np.int64(3), "flag": np.bool_(True), "nan": float("nan"), "p": 0.3,
             "array": np.array([1.5, 2.0])}
    row = Dataset.from_list([{"j": value}], features=Features({"j": Json()}))[0]["j"]
    assert exact(row) == exact({"f32": 0.5, "i64": 3, "flag": True, "nan": None, "p": 0.3, "array": [1.5, 2.0]})


@pytest.mark.parametrize("first", ["datasets", "toolcall_templates"])
def test_exact_whatever_the_import_order_and_datasets_stays_lazy(first):
    second = "toolcall_templates" if first == "datasets" else "datasets"
    code = f"""
import sys, json
import {first}
lazy = "datasets" not in sys.modules
import {second}
from datasets import Dataset, Features, Json
value = {{"eps": 8.854e-12, "p": 0.3, "z": -0.0, "big": 2**70}}
got = Dataset.from_list([{{"j": value}}], features=Features({{"j": Json()}})).map(lambda r: r)[0]["j"]
print(json.dumps({{"lazy": lazy, "exact": json.dumps(got) == json.dumps(value)}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["exact"] and (report["lazy"] or first == "datasets"), report


def test_stored_text_is_plain_json_that_datasets_reads_without_this_package(tmp_path):
    from datasets import Dataset

    value = {"p": 0.5, "text": "北京", "list": [1, 2.5, None, True]}
    record = tricky_record()
    record["messages"][1]["tool_calls"][0]["function"]["arguments"] = json.dumps(value)
    row = normalize(record)
    row["meta"]["payload"] = value
    Dataset.from_list([row], features=features()).save_to_disk(str(tmp_path / "saved"))
    code = f"""
import json, sys
from datasets import load_from_disk
row = load_from_disk({str(tmp_path / "saved")!r})[0]
assert "toolcall_templates" not in sys.modules
print(json.dumps([row["meta"]["payload"], row["messages"][1]["tool_calls"][0]["function"]["arguments"]]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [value, value]


def test_rows_without_tools_save_write_parquet_and_push_layout(tmp_path):
    """Rows that declare no tools (``tools`` null) used to make ``save_to_disk`` / ``to_parquet`` / ``push_to_hub``
    fail inside pyarrow ("cannot construct builder for type extension<arrow.json>"); with tool rows after them too."""
    from datasets import Dataset, load_dataset, load_from_disk

    chat = normalize({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
                     "openai")
    assert chat["tools"] is None
    tooled = normalize({"messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": None,
                        "tool_calls": [{"type": "function", "function": {"name": "w", "arguments": '{"t": 0.3}'}}]}],
                        "tools": [{"type": "function", "function": {"name": "w", "parameters": {
                            "type": "object", "properties": {"t": {"type": "number"}}}}}]}, "openai")
    for rows in ([chat] * 3, [chat] * 3 + [tooled]):
        dataset = Dataset.from_list(rows, features=features())
        dataset.save_to_disk(str(tmp_path / "disk"))
        dataset.to_parquet(str(tmp_path / "rows.parquet"))
        for loaded in (load_from_disk(str(tmp_path / "disk")),
                       load_dataset("parquet", data_files=str(tmp_path / "rows.parquet"), split="train")):
            assert loaded.to_list() == dataset.to_list()
            assert loaded[-1]["tools"] == rows[-1]["tools"] and loaded[0]["tools"] is None
