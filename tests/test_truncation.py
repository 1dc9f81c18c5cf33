"""Turn-safe truncation: drop, keep the longest prefix ending at a stop token, or drop the oldest whole turns."""

from __future__ import annotations

import pytest

from conftest import load_tokenizer
from toolcall_templates.tokenization.tokenize import ConversationDropped, tokenize_conversation
from toolcall_templates.tokenization.truncation import EncodedConversation, fit, keep_prefix, split_turns

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def call(k: int, city: str) -> dict:
    return {"id": f"c{k}", "type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}


def turn(k: int, city: str) -> list[dict]:
    return [
        {"role": "user", "content": f"Weather in {city}? " + "please " * 20},
        {"role": "assistant", "content": "", "tool_calls": [call(k, city)]},
        {"role": "tool", "content": '{"temperature_c": %d}' % (10 + k), "tool_call_id": f"c{k}", "name": "get_weather"},
        {"role": "assistant", "content": f"It is {10 + k} degrees in {city}."},
    ]


ROW = {"tools": TOOLS, "messages": [{"role": "system", "content": "Be brief."}, *turn(0, "Paris"),
                                     *turn(1, "Rome"), *turn(2, "Oslo")]}


def trained(tokenizer, encoded: dict) -> str:
    return tokenizer.decode([t for t, label in zip(encoded["input_ids"], encoded["labels"]) if label != -100])


# -- policy logic on synthetic conversations -------------------------------------------------------------------------
def conversation() -> EncodedConversation:
    ids = list(range(20))
    labels = [-100] * 5 + ids[5:8] + [-100] * 4 + ids[12:15] + [-100] * 2 + ids[17:20]
    return EncodedConversation(ids, labels, turn_ends=[8, 15, 20])


def test_prefix_ends_right_after_a_stop_token():
    kept = keep_prefix(conversation(), 16)
    assert kept.input_ids == list(range(15)) and kept.turn_ends == [8, 15]
    assert keep_prefix(conversation(), 7) is None


def test_fit_policies_and_reasons():
    assert fit(conversation(), None, "drop").conversation.input_ids == list(range(20))
    assert fit(conversation(), 20, "drop").truncated is None
    dropped = fit(conversation(), 19, "drop")
    assert dropped.conversation is None and dropped.drop_reason == "too_long" and "20 tokens" in dropped.detail
    cut = fit(conversation(), 19, "prefix")
    assert cut.truncated == "prefix" and len(cut.conversation) == 15
    assert fit(conversation(), 6, "prefix").drop_reason == "too_long"
    untrained = EncodedConversation(list(range(20)), [-100] * 17 + [17, 18, 19], turn_ends=[8, 20])
    left = fit(untrained, 10, "prefix")
    assert left.drop_reason == "no_trained_tokens" and left.truncated == "prefix"
    with pytest.raises(ValueError, match="truncation"):
        from toolcall_templates.tokenization.truncation import check_policy

        check_policy("middle")


def test_split_turns_keeps_the_system_head():
    head, turns = split_turns(ROW["messages"])
    assert head == ROW["messages"][:1] and len(turns) == 3 and all(t[0]["role"] == "user" for t in turns)
    assert split_turns([{"role": "assistant", "content": "x"}]) == ([], [[{"role": "assistant", "content": "x"}]])


# -- with the real templates -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["qwen2.5", "glm4"])
def test_prefix_never_cuts_a_tool_call_or_result(family):
    tokenizer = load_tokenizer(family)
    full = tokenize_conversation(ROW, tokenizer, family)
    stops = {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|observation|>", "<|user|>")}
    for max_length in range(len(full["input_ids"]) // 2, len(full["input_ids"]), 19):
        try:
            cut = tokenize_conversation(ROW, tokenizer, family, max_length=max_length, truncation="prefix")
        except ConversationDropped as exc:
            assert exc.drop_reason == "too_long"
            continue
        n = len(cut["input_ids"])
        assert n <= max_length and cut["input_ids"] == full["input_ids"][:n] and cut["labels"] == full["labels"][:n]
        assert cut["input_ids"][-1] in stops and cut["labels"][-1] != -100  # ends on a trained stop token
        text = tokenizer.decode(cut["input_ids"])
        if family == "glm4":  # every call kept whole, through the <|observation|> that ends it
            assert text.count("<|assistant|>get_weather\n{") == text.count("}<|observation|>")
        else:
            assert text.count("<tool_call>") == text.count("</tool_call>")


def test_prefix_keeps_the_longest_fitting_turn_boundary():
    tokenizer = load_tokenizer("qwen2.5")
    full = tokenize_conversation(ROW, tokenizer, "qwen2.5")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    trained_ends = [k + 1 for k, (t, label) in enumerate(zip(full["input_ids"], full["labels"]))
                    if t == im_end and label != -100]
    limit = trained_ends[3] + 5
    cut = tokenize_conversation(ROW, tokenizer, "qwen2.5", max_length=limit, truncation="prefix")
    assert len(cut["input_ids"]) == trained_ends[3]


@pytest.mark.parametrize("family", ["qwen2.5", "llama3.1"])
def test_drop_oldest_keeps_system_and_tools_and_whole_recent_turns(family):
    tokenizer = load_tokenizer(family)
    kwargs = {"date_string": "26 Jul 2024"} if family.startswith("llama") else {}
    full = tokenize_conversation(ROW, tokenizer, family, template_kwargs=kwargs)
    last_two = {"tools": TOOLS, "messages": ROW["messages"][:1] + ROW["messages"][5:]}
    expected = tokenize_conversation(last_two, tokenizer, family, template_kwargs=kwargs)
    assert len(expected["input_ids"]) < len(full["input_ids"])
    cut = tokenize_conversation(ROW, tokenizer, family, max_length=len(expected["input_ids"]),
                                truncation="drop_oldest", template_kwargs=kwargs)
    assert cut == expected  # re-rendered: the template places tools and system text as for the shorter chat
    text = tokenizer.decode(cut["input_ids"])
    assert "Be brief." in text and "get_weather" in text and "Paris" not in text and "Oslo" in text


def test_drop_oldest_falls_back_to_a_prefix_of_the_last_turn():
    tokenizer = load_tokenizer("qwen2.5")
    last = {"tools": TOOLS, "messages": ROW["messages"][:1] + ROW["messages"][9:]}
    alone = tokenize_conversation(last, tokenizer, "qwen2.5")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    first_stop = next(k + 1 for k, (t, label) in enumerate(zip(alone["input_ids"], alone["labels"]))
                      if t == im_end and label != -100)
    cut = tokenize_conversation(ROW, tokenizer, "qwen2.5", max_length=first_stop + 3, truncation="drop_oldest")
    assert cut["input_ids"] == alone["input_ids"][:first_stop]
    with pytest.raises(ConversationDropped, match="too_long"):
        tokenize_conversation(ROW, tokenizer, "qwen2.5", max_length=first_stop - 1, truncation="drop_oldest")


def test_truncated_rows_are_counted_in_the_report():
    from datasets import Dataset

    from toolcall_templates.schema import features
    from toolcall_templates.tokenization.tokenize import tokenize_dataset

    tokenizer = load_tokenizer("qwen2.5")
    full = len(tokenize_conversation(ROW, tokenizer, "qwen2.5")["input_ids"])
    rows = [{"id": str(k), "source": "t", "tools": TOOLS, "messages": ROW["messages"], "meta": {}, "warnings": []}
            for k in range(3)]
    dataset, report = tokenize_dataset(Dataset.from_list(rows, features=features()), tokenizer, "qwen2.5",
                                       max_length=full - 10, truncation="prefix", return_report=True, desc=None)
    assert len(dataset) == 3 and dict(report.truncated) == {"prefix": 3} and report.rows_dropped == 0
    assert all(len(ids) < full - 10 for ids in dataset["input_ids"])
