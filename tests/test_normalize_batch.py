"""``normalize_batch`` works inside ``datasets.map(batched=True, num_proc=N)`` and on streaming datasets."""

from datasets import Dataset, IterableDataset

from toolcall_templates import normalize, normalize_batch
from toolcall_templates.schema import batch_features

GOOD = {"messages": [{"role": "user", "content": "天气?"}, {"role": "assistant", "content": None,
        "tool_calls": [{"function": {"name": "w", "arguments": "{\"c\": \"北京\"}"}}]},
        {"role": "tool", "content": "晴"}, {"role": "assistant", "content": "晴天"}],
        "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object",
                   "properties": {"c": {"type": "string"}}}}}]}
OTHER = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "tools": None}
BAD = {"messages": [{"role": "user", "content": "only"}], "tools": None}


def _records(n=40):
    return [[GOOD, OTHER, BAD][i % 3] for i in range(n)]


def test_map_batched_multiprocess_keeps_every_record():
    import json

    source = Dataset.from_dict({"payload": [json.dumps(r, ensure_ascii=False) for r in _records()]})

    def decode_then_normalize(batch):
        records = [json.loads(p) for p in batch["payload"]]
        return normalize_batch({"messages": [r["messages"] for r in records], "tools": [r["tools"] for r in records]},
                               "openai")

    out = source.map(decode_then_normalize, batched=True, batch_size=7, num_proc=2, features=batch_features(),
                     remove_columns=["payload"])
    assert len(out) == 40
    good = out.filter(lambda r: r["error"] is None)
    assert len(good) == 27 and sum(e is not None and "no assistant turn" in e for e in out["error"]) == 13
    assert good[0]["messages"] == normalize(GOOD)["messages"]
    assert good[0]["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {"c": {"type": "string"}}}
    assert good[1]["tools"] is None


def test_streaming_iterable_dataset():
    stream = IterableDataset.from_generator(lambda: ({"messages": r["messages"], "tools": r["tools"]} for r in _records(9)))
    rows = list(stream.map(normalize_batch, batched=True, batch_size=4, fn_kwargs={"fmt": "openai", "source": "s"}))
    assert len(rows) == 9
    assert [r["error"] is None for r in rows] == [True, True, False] * 3
    assert rows[0]["source"] == "s" and rows[0]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"c": "北京"}
