"""``tokenize_dataset`` on streaming datasets and many machines (issue 9, point 2): a lazy ``IterableDataset`` with the
rows, labels and report of the in-memory path, raw and split rows included, ``split_dataset_by_node`` before or after
tokenization, packing a bounded buffer at a time, and ``toolcall tokenize --streaming`` under the output rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import load_tokenizer, run_toolcall, shared_path
from tiny_models import built_demo_dataset

from toolcall_templates import features, normalize, pack_dataset, tokenize_dataset
from toolcall_templates.tokenization.tokenize import tokenize_conversation_rows

MAX_LENGTH = 640
"""Keeps most Glaive demo conversations and drops the longest as ``too_long``."""
KEEP = ("id", "source")


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> dict[int, list[str]]:
    """The first 36 Glaive demo conversations, canonical, as parquet files: ``{number of files: paths}``."""
    from datasets import Dataset

    source = shared_path("sources", "llamafactory_sharegpt_tools", "glaive_toolcall_en_demo.json")
    records = json.loads(source.read_text(encoding="utf-8"))[:36]
    dataset = Dataset.from_list([normalize(record, source="glaive") for record in records], features=features())
    folder = tmp_path_factory.mktemp("demo-shards")
    files = {}
    for count in (3, 4):
        files[count] = [str(folder / f"{count}-{i}.parquet") for i in range(count)]
        for i, path in enumerate(files[count]):
            dataset.shard(count, i, contiguous=True).to_parquet(path)
    return files


@pytest.fixture(scope="module")
def demo_built(tmp_path_factory) -> Path:
    """Eight Glaive demo conversations built by ``toolcall build`` (the user's folder)."""
    return built_demo_dataset(tmp_path_factory.mktemp("built"), tuple(range(8)))


def load(files: list[str], streaming: bool):
    from datasets import load_dataset

    return load_dataset("parquet", data_files=files, split="train", streaming=streaming)


def in_memory(files: list[str], tokenizer, **options):
    return tokenize_dataset(load(files, False), tokenizer, desc=None, return_report=True, **options)


def as_keys(rows) -> Counter:
    return Counter((row["id"], tuple(row["input_ids"]), tuple(row["labels"])) for row in rows)


def test_streamed_rows_labels_and_report_equal_the_in_memory_path(demo_files):
    from datasets import IterableDataset

    tokenizer = load_tokenizer("qwen2.5")
    expected, expected_report = in_memory(demo_files[3], tokenizer, max_length=MAX_LENGTH, keep_columns=KEEP)
    stream, report = tokenize_dataset(load(demo_files[3], True), tokenizer, max_length=MAX_LENGTH, keep_columns=KEEP,
                                      batch_size=8, return_report=True)
    assert isinstance(stream, IterableDataset) and report.rows_in == 0  # lazy: nothing read yet
    rows = iter(stream)
    first = next(rows)
    assert 0 < report.rows_in < 36  # counted as consumed, one batch so far
    assert [first, *rows] == expected.to_list()
    assert report.to_dict() == expected_report.to_dict()
    assert report.rows_in == 36 and report.dropped["too_long"] > 0 and report.rows_out == len(expected)
    assert list(stream) == expected.to_list() and report.to_dict() == expected_report.to_dict()  # a second epoch


def test_raw_rows_split_by_a_foreign_template_stream_as_they_tokenize_in_memory():
    """OpenAI-shaped records (``content: null``, arguments as JSON text) under gpt-oss's own template, which needs one
    row per assistant turn: from a generator (Python dicts, no features; the first batch has no tool calls) and from
    an Arrow-backed stream, each conversation gives the rows ``tokenize_conversation_rows`` gives it."""
    from datasets import Dataset, IterableDataset

    from own_template_families import family_tokenizer

    tokenizer = family_tokenizer("gptoss")
    stops = ("<|return|>", "<|call|>")
    records = [*(_answer(i) for i in range(2)), *(_weather(i) for i in range(3)),
               {"id": "orphan", "messages": [{"role": "tool", "content": "no call"}]}, _answer(2)]
    expected = [{"id": record["id"], **row} for record in records[:5] + records[6:]
                for row in tokenize_conversation_rows(record, tokenizer, stop_tokens=stops)]
    assert len(expected) > 6  # conversations were split

    options = dict(keep_columns=("id",), stop_tokens=stops, return_report=True, batch_size=2)
    memory, memory_report = tokenize_dataset(Dataset.from_list(records), tokenizer, desc=None, **options)
    assert memory.to_list() == expected
    assert memory_report.history["split"] == 3 and memory_report.dropped == {"invalid_row": 1}

    def generate(records):
        yield from records

    for stream in (IterableDataset.from_generator(generate, gen_kwargs={"records": records}),
                   Dataset.from_list(records).to_iterable_dataset(num_shards=2)):
        tokenized, report = tokenize_dataset(stream, tokenizer, **options)
        assert list(tokenized) == expected
        assert report.to_dict() == memory_report.to_dict()


@pytest.mark.parametrize("files, world_size", [(4, 2), (3, 2)], ids=["shards-divide", "shards-do-not-divide"])
def test_nodes_split_before_or_after_tokenization_are_disjoint_and_make_the_whole(demo_files, files, world_size):
    from datasets.distributed import split_dataset_by_node

    tokenizer = load_tokenizer("qwen2.5")
    whole = as_keys(in_memory(demo_files[files], tokenizer, max_length=MAX_LENGTH, keep_columns=("id",))[0])
    options = dict(max_length=MAX_LENGTH, keep_columns=("id",), batch_size=4)
    before, after, tokenized_rows = [], [], 0
    for rank in range(world_size):
        node = split_dataset_by_node(load(demo_files[files], True), rank, world_size)
        stream, report = tokenize_dataset(node, tokenizer, return_report=True, **options)
        before.append(as_keys(stream))
        tokenized_rows += report.rows_in
        after.append(as_keys(split_dataset_by_node(tokenize_dataset(load(demo_files[files], True), tokenizer,
                                                                    **options), rank, world_size)))
    assert tokenized_rows == 36  # split before, each node tokenized only its own conversations
    for nodes in (before, after):
        assert all(nodes) and sum(nodes, Counter()) == whole  # union = whole, with no row twice
        assert not set(nodes[0]) & set(nodes[1])


def test_streaming_packs_a_bounded_buffer_at_a_time(demo_files):
    tokenizer = load_tokenizer("qwen2.5")
    unpacked = in_memory(demo_files[4], tokenizer, max_length=MAX_LENGTH)[0]
    stream, report = tokenize_dataset(load(demo_files[4], True), tokenizer, max_length=MAX_LENGTH, pack=True,
                                      pack_buffer=8, return_report=True)
    packed = list(stream)
    assert report.packing["rows"] == len(packed) and 0 < report.packing["fill"] <= 1
    conversations = []
    for row in packed:
        assert len(row["input_ids"]) <= MAX_LENGTH and sum(row["seq_lengths"]) == len(row["input_ids"])
        start = 0
        for length in row["seq_lengths"]:
            assert row["position_ids"][start:start + length] == list(range(length))
            conversations.append((tuple(row["input_ids"][start:start + length]),
                                  tuple(row["labels"][start + 1:start + length])))
            start += length
    assert Counter(conversations) == Counter((tuple(r["input_ids"]), tuple(r["labels"][1:])) for r in unpacked)
    assert len(packed) > len(pack_dataset(unpacked, MAX_LENGTH))  # buffers of 8 rows pack less tightly
    whole_buffer = tokenize_dataset(load(demo_files[4], True), tokenizer, max_length=MAX_LENGTH, pack=True,
                                    pack_buffer=1000)
    assert list(whole_buffer) == pack_dataset(unpacked, MAX_LENGTH).to_list()


def test_streams_that_cannot_be_tokenized_are_refused_with_the_reason(demo_files):
    from datasets import IterableDataset

    tokenizer = load_tokenizer("qwen2.5")
    with pytest.raises(ValueError, match="split_dataset_by_node"):
        tokenize_dataset(load(demo_files[3], True), tokenizer, num_proc=2)
    with pytest.raises(ValueError, match="keep_columns not in the dataset"):
        tokenize_dataset(load(demo_files[3], True), tokenizer, keep_columns=("label",))
    with pytest.raises(ValueError, match="pack=True needs max_length"):
        tokenize_dataset(load(demo_files[3], True), tokenizer, pack=True)
    unusable = IterableDataset.from_generator(_unusable)
    with pytest.raises(ValueError, match="none of the first 2 rows of the stream"):
        tokenize_dataset(unusable, tokenizer)


def test_toolcall_tokenize_streaming_writes_the_same_rows_under_the_same_output_rules(tmp_path, demo_built):
    from datasets import load_dataset

    built = demo_built
    tokenizer = shared_path("fixtures", "tokenizers", "qwen2.5")
    common = ("tokenize", "--in", built, "--tokenizer", tokenizer, "--max-length", MAX_LENGTH, "--no-progress")
    plain = run_toolcall(*common, "--save-format", "parquet", "--out", tmp_path / "plain")
    streamed = run_toolcall(*common, "--streaming", "--out", tmp_path / "streamed")
    assert plain.returncode == streamed.returncode == 0, plain.stderr + streamed.stderr
    assert streamed.stdout == plain.stdout.replace("plain", "streamed")

    def rows(folder: Path):
        return load_dataset("parquet", data_files=str(folder / "data" / "*.parquet"), split="train").to_list()

    def report(folder: Path):
        written = json.loads((folder / "tokenize_report.json").read_text(encoding="utf-8"))
        return written, written.pop("options")

    assert rows(tmp_path / "streamed") == rows(tmp_path / "plain")
    (plain_report, plain_options), (streamed_report, streamed_options) = map(report, (tmp_path / "plain",
                                                                                      tmp_path / "streamed"))
    assert streamed_report == plain_report and plain_report["dropped"]["too_long"] > 0
    assert streamed_options == {**plain_options, "streaming": True}
    assert (tmp_path / "streamed" / ".toolcall-output.json").is_file()

    packed = run_toolcall(*common, "--streaming", "--pack", "--pack-buffer", "4", "--out", tmp_path / "streamed")
    assert packed.returncode == 0, packed.stderr  # an earlier output of toolcall is replaced
    packed_report, _ = report(tmp_path / "streamed")
    assert packed_report["packing"]["rows"] == len(rows(tmp_path / "streamed")) >= plain_report["rows_out"] / 4

    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    refused = run_toolcall(*common, "--streaming", "--out", foreign)
    assert refused.returncode == 2 and "not written by toolcall" in refused.stderr
    assert [p.name for p in foreign.iterdir()] == ["mine.txt"]

    nothing = run_toolcall(*common[:5], "--max-length", "8", "--no-progress", "--streaming", "--out", tmp_path / "none")
    assert nothing.returncode == 1 and f"all dropped (too_long: {plain_report['rows_in']})" in nothing.stderr
    assert not (tmp_path / "none").exists() and not list(tmp_path.glob(".none*"))


def test_parquet_shards_are_written_as_rows_arrive(tmp_path, demo_files):
    from datasets import load_dataset

    from toolcall_templates.tokenization.parquet_shards import write_parquet_shards

    tokenizer = load_tokenizer("qwen2.5")
    stream = tokenize_dataset(load(demo_files[3], True), tokenizer, keep_columns=("id",), batch_size=4)
    shards = write_parquet_shards(stream, tmp_path / "data", rows_per_shard=10, batch_rows=7)
    assert [p.name for p in shards] == [f"train-0000{i}-of-00004.parquet" for i in range(4)]
    written = load_dataset("parquet", data_files=[str(p) for p in shards], split="train")
    assert written.features == stream.features and written.to_list() == list(stream)
    assert [p.name for p in (tmp_path / "data").iterdir() if not p.name.startswith("train-")] == []


# -- records ------------------------------------------------------------------------------------------------------
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _answer(i: int) -> dict:
    return {"id": f"answer-{i}", "tools": [], "messages": [  # Dataset.from_list takes its columns from row 0
        {"role": "user", "content": f"Hello {i}"}, {"role": "assistant", "content": f"Hi {i}."}]}


def _weather(i: int) -> dict:
    """Two calls and two answers: gpt-oss renders a final answer in history unlike the model wrote it."""
    turns = [{"role": "user", "content": f"Weather in Paris {i}?"}]
    for n, city in enumerate(("Paris", "Rome")):
        call_id = f"call_{i}_{n}"
        call = {"id": call_id, "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
        turns += [{"role": "assistant", "content": None, "tool_calls": [call]},
                  {"role": "tool", "tool_call_id": call_id, "content": f"{18 + n}C"},
                  {"role": "assistant", "content": f"{18 + n}C in {city}."}]
        if n == 0:
            turns.append({"role": "user", "content": "And Rome?"})
    return {"id": f"weather-{i}", "tools": TOOLS, "messages": turns}


def _unusable():
    yield {"text": "not a conversation"}
    yield {"text": "nor this"}


# -- the README recipe --------------------------------------------------------------------------------------------
README_SECTION = "## Streaming and many machines"


def readme_python_blocks(heading: str) -> str:
    """The ```python blocks of the README section ``heading`` (to the next ``## `` heading), joined."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(part.split("\n```", 1)[0] for part in section.split("```python\n")[1:])


def test_the_readme_streaming_recipe_runs_and_feeds_the_trainer_exact_labels(tmp_path, monkeypatch, demo_built):
    """The README's blocks run as written, with only the model id (a tiny random Qwen2 saved with the real Qwen2.5
    tokenizer), ``"toolcall-unified"`` (:func:`demo_built`) and ``"out"``
    replaced; the streamed report equals the in-memory one, and the packed rows the Trainer feeds the model hold
    ``tokenize_dataset``'s conversations and labels."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tiny_models import save, tiny_qwen2

    from toolcall_templates import load_unified

    tokenizer = load_tokenizer("qwen2.5")
    model_dir = save(tiny_qwen2(tokenizer, hidden=32), tokenizer, tmp_path / "tiny-qwen2")
    dataset = demo_built
    code = readme_python_blocks(README_SECTION)
    for written, stand_in in (('"Qwen/Qwen2.5-0.5B-Instruct"', model_dir), ('"toolcall-unified"', dataset),
                              ('"out"', tmp_path / "out")):
        assert written in code, f"the README streaming recipe no longer uses {written}: update this test"
        code = code.replace(written, repr(str(stand_in)))

    fed: list[dict] = []
    load = transformers.AutoModelForCausalLM.from_pretrained

    def recording_load(*args, **kwargs):
        model = load(*args, **kwargs)
        model.register_forward_pre_hook(lambda _, __, inputs: fed.append(
            {k: inputs[k][0].tolist() for k in ("input_ids", "labels", "position_ids")}), with_kwargs=True)
        return model

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", recording_load)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict = {"__name__": "readme_streaming"}
    try:
        exec(compile(code, "README.md (streaming)", "exec"), namespace)
    finally:
        torch.set_num_threads(threads)

    expected, expected_report = tokenize_dataset(load_unified(str(dataset)), tokenizer, max_length=2048,
                                                 keep_columns=["id"], return_report=True, desc=None)
    assert namespace["report"].to_dict() == expected_report.to_dict() and expected_report.rows_out >= 6
    assert len(fed) == 2  # max_steps=2
    conversations = Counter((tuple(r["input_ids"]), tuple(r["labels"][1:])) for r in expected)
    for batch in fed:
        starts = [i for i, position in enumerate(batch["position_ids"]) if position == 0] + [len(batch["input_ids"])]
        for start, end in zip(starts, starts[1:]):
            if batch["labels"][start:end] == [-100] * (end - start):
                continue  # a padded tail
            segment = (tuple(batch["input_ids"][start:end]), tuple(batch["labels"][start + 1:end]))
            assert conversations[segment] > 0, "the Trainer was fed a conversation tokenize_dataset did not give"
