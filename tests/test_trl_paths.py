"""TRL ``SFTTrainer(assistant_only_loss=True)`` on built rows (path (a) of the README's training recipes): what it
trains per template, with and without ``sft_conversations``, against ``tokenize_dataset``'s labels.

TRL tokenizes the dataset when the trainer is built; ``trainer.train_dataset`` holds the ``input_ids`` and
``labels`` its collator batches (``tests/test_readme_recipes.py`` records the batches themselves on Qwen2.5, for
every path and batching). These tests build no more than the trainer, so each template costs no training step.
"""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import SHARED, load_tokenizer
from fed_batches import expected_conversations
from tiny_models import built_demo_dataset, tiny_qwen2

transformers = pytest.importorskip("transformers")
trl = pytest.importorskip("trl")

PICK = (159, 233, 114)  # short Glaive demo conversations, two of them calling tools


@pytest.fixture(scope="module")
def built_rows(tmp_path_factory):
    from toolcall_templates import load_unified

    return load_unified(str(built_demo_dataset(tmp_path_factory.mktemp("trl_paths"), PICK)))


def fresh_tokenizer(family: str, template: str):
    """A tokenizer of its own (the conftest one is shared by the session) with the shipped ``template``."""
    from toolcall_templates import apply_tool_template

    load_tokenizer(family)  # skips when the shared tokenizer is absent
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / family))
    return apply_tool_template(tokenizer, template)


def prepared(dataset, tokenizer, tmp_path) -> Counter:
    """The ``(input_ids, labels)`` rows ``SFTTrainer(assistant_only_loss=True)`` prepares from ``dataset``."""
    config = trl.SFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, max_length=None, use_cpu=True,
                           report_to=[], max_steps=1)
    model = tiny_qwen2(tokenizer, hidden=16)
    trainer = trl.SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    return Counter((tuple(row["input_ids"]), tuple(row["labels"])) for row in trainer.train_dataset)


def tokenized(dataset, tokenizer) -> Counter:
    from toolcall_templates import tokenize_dataset

    return expected_conversations(tokenize_dataset(dataset, tokenizer, desc=None))


@pytest.mark.parametrize("family, template", [("qwen2.5", "qwen2.5"), ("glm4", "glm4"), ("llama3.1", "llama3.1"),
                                              ("llama3.2", "llama3.2")])
def test_sft_conversations_make_trl_train_the_labels_of_tokenize_dataset(built_rows, family, template, tmp_path):
    from toolcall_templates import sft_conversations

    tokenizer = fresh_tokenizer(family, template)
    expected = tokenized(built_rows, tokenizer)
    assert sum(expected.values()) == len(PICK)
    assert prepared(sft_conversations(built_rows, tokenizer), tokenizer, tmp_path) == expected


def test_without_sft_conversations_glm4_never_learns_to_stop_after_its_final_answer(built_rows, tmp_path):
    """GLM-4 ends an assistant turn with the next role token; rendered without ``add_stop_token=True``, the last
    turn of a conversation has none, and TRL trains the final answer without its stop token."""
    tokenizer = fresh_tokenizer("glm4", "glm4")
    stop = tokenizer.convert_tokens_to_ids("<|user|>")
    expected = tokenized(built_rows, tokenizer)
    bare = prepared(built_rows, tokenizer, tmp_path)
    assert bare != expected
    assert bare == Counter({(ids[:-1], labels[:-1]): n for (ids, labels), n in expected.items()})
    assert all(ids[-1] == labels[-1] == stop for ids, labels in expected)


def test_without_sft_conversations_llama32_trains_with_todays_date(built_rows, tmp_path):
    tokenizer = fresh_tokenizer("llama3.2", "llama3.2")
    expected = tokenized(built_rows, tokenizer)
    text = tokenizer.decode(next(iter(prepared(built_rows, tokenizer, tmp_path)))[0])
    assert "Today Date: 26 Jul 2024" in tokenizer.decode(next(iter(expected))[0])
    assert "Today Date: 26 Jul 2024" not in text  # the template's strftime_now: the day the data was tokenized


def test_a_token_across_the_turn_edge_is_trained_by_trl_but_not_by_tokenize_dataset(tmp_path):
    """Documented difference of path (a): an assistant text that starts with a newline merges with the ``\\n`` of
    ``<|im_start|>assistant\\n`` into one ``\\n\\n`` token, which TRL trains though the model's prompt ends with
    ``\\n``; ``tokenize_dataset`` (path (b)) trains the tokens the model sees and generates."""
    from datasets import Dataset

    from toolcall_templates import features, normalize, sft_conversations

    tokenizer = fresh_tokenizer("qwen2.5", "qwen2.5")
    record = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "\nHello there"}]}
    rows = Dataset.from_list([normalize(record)], features=features())
    [(trl_ids, trl_labels)] = prepared(sft_conversations(rows, tokenizer), tokenizer, tmp_path)
    [(ids, labels)] = tokenized(rows, tokenizer)

    def trained(ids, labels):
        return [tokenizer.decode([token]) for token, label in zip(ids, labels) if label != -100]

    assert trained(trl_ids, trl_labels) == ["\n\n", "Hello", " there", "<|im_end|>"]
    assert trained(ids, labels) == ["\n", "Hello", " there", "<|im_end|>"]
    assert len(ids) == len(trl_ids) + 1


def test_sft_conversations_refuses_what_trl_cannot_train_exactly(built_rows):
    from datasets import Dataset

    from toolcall_templates import sft_conversations

    with pytest.raises(ValueError, match="renders earlier turns differently"):
        sft_conversations(built_rows, fresh_tokenizer("qwen3", "qwen3"))
    official = transformers.AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / "qwen2.5"))
    with pytest.raises(ValueError, match="not a shipped template"):
        sft_conversations(built_rows, official)
    openai = Dataset.from_list([{"messages": [{"role": "user", "content": "Hi"},
                                              {"role": "assistant", "content": "Hello"}]}])
    with pytest.raises(ValueError, match="not canonical"):
        sft_conversations(openai, fresh_tokenizer("qwen2.5", "qwen2.5"))


def test_sft_conversations_on_a_stream(built_rows, tmp_path):
    """A streamed dataset gets the column lazily; TRL prepares the same rows from it."""
    from datasets import IterableDataset

    from toolcall_templates import sft_conversations

    tokenizer = fresh_tokenizer("glm4", "glm4")
    stream = built_rows.to_iterable_dataset()
    conversations = sft_conversations(stream, tokenizer)
    assert isinstance(conversations, IterableDataset)
    assert [row["chat_template_kwargs"] for row in conversations] == [{"add_stop_token": True}] * len(PICK)
    assert prepared(conversations, tokenizer, tmp_path) == tokenized(built_rows, tokenizer)

