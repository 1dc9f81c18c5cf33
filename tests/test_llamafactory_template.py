"""``chatml-llamafactory`` against LLaMA-Factory itself: template ``qwen`` with ``tool_format: default``, the seed
workflow of fine-tuning a ChatML model on tool data with LLaMA-Factory (Qwen2.5 tokenizer).

Oracle: LLaMA-Factory's own converter, template and supervised processor (``llamafactory_oracle.py``; they skip with
the install command when LLaMA-Factory is absent). Compared: the text (LLaMA-Factory's ids decoded), the ids (ours
tokenize the whole text; LLaMA-Factory encodes each turn on its own) and the labels (LLaMA-Factory also trains the
``\\n`` after a text turn's ``<|im_end|>``, which the model never generates; ours stop at ``<|im_end|>``).
"""

from __future__ import annotations

import json
from functools import lru_cache

import pytest

from conftest import load_tokenizer, shared_path
from llamafactory_oracle import Inexpressible, LlamaFactoryQwenDefault, sharegpt_record
from test_template_masks import span_mask
from test_template_parity import shared_rows, tools_of
from toolcall_templates.normalize import normalize
from toolcall_templates.templates import get_template, render

NAME = "chatml-llamafactory"
GLAIVE = "llamafactory_sharegpt_tools"


@lru_cache(maxsize=None)
def oracle(dataset: str | None = None) -> LlamaFactoryQwenDefault:
    """LLaMA-Factory for the shared glaive demo's own ``dataset_info.json`` entry, or for ShareGPT records as
    ``sharegpt_record`` spells canonical rows (``dataset=None``)."""
    import copy

    tokenizer = copy.deepcopy(load_tokenizer("qwen2.5"))  # LLaMA-Factory fixes special tokens on the tokenizer
    info = None
    if dataset is not None:
        info = json.loads(shared_path("sources", GLAIVE, "dataset_info.json").read_text(encoding="utf-8"))[dataset]
    return LlamaFactoryQwenDefault(tokenizer, info)


def our_encoding(messages: list[dict], tools: list[dict] | None) -> tuple[str, list[int], list[int]]:
    """Our text, its ids (whole-text tokenization) and the generation mask."""
    tokenizer = load_tokenizer("qwen2.5")
    text, spans = render(NAME, messages, tools)
    encoding = tokenizer([text], add_special_tokens=False)
    ids = encoding["input_ids"][0]
    return text, ids, span_mask(encoding, 0, spans, len(ids))


def labels_without_turn_newlines(ids: list[int], labels: list[int]) -> list[int]:
    """LLaMA-Factory's labels without the ``\\n`` it trains after a text turn's ``<|im_end|>``."""
    tokenizer = load_tokenizer("qwen2.5")
    im_end, newline = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer("\n", add_special_tokens=False)[
        "input_ids"][0]
    return [-100 if i and ids[i - 1] == im_end and token == newline and label == token else label
            for i, (token, label) in enumerate(zip(ids, labels))]


def same_turns(original: list[dict], respelt: list[dict]) -> bool:
    """Whether two ShareGPT conversations hold the same turns (a call written as one JSON object or a list of one)."""
    def turn(item: dict) -> tuple:
        try:
            calls = json.loads(item["value"]) if item["from"] == "function_call" else None
        except json.JSONDecodeError:
            calls = None
        if calls is None:
            return item["from"], item["value"]
        return item["from"], json.dumps(calls if isinstance(calls, list) else [calls], sort_keys=True)

    return [turn(t) for t in original] == [turn(t) for t in respelt]


def _compare(pairs, capsys, label: str) -> None:
    texts = ids = labels = 0
    first_text = first_ids = None
    for (messages, tools), encoded in pairs:
        text, our_ids, mask = our_encoding(messages, tools)
        texts += text == encoded.text
        if text != encoded.text and first_text is None:
            first_text = (encoded.text, text)
        if our_ids == encoded.input_ids:
            ids += 1
            expected = labels_without_turn_newlines(encoded.input_ids, encoded.labels)
            labels += [t if m else -100 for t, m in zip(our_ids, mask)] == expected
        elif first_ids is None:
            first_ids = text
    total = len(pairs)
    with capsys.disabled():
        print(f"\n[llamafactory] {label}: text {texts}/{total}, ids {ids}/{total}, labels {labels}/{ids} "
              "(LLaMA-Factory's labels without the \\n after a text turn's <|im_end|>)", end="")
    assert first_text is None, first_text
    assert ids == total, first_ids
    assert labels == ids == total > 0


def test_the_seed_workflow_glaive_demo_renders_as_llamafactory_renders_it(capsys):
    """The shared glaive demo records as they are (LLaMA-Factory's own demo data and ``dataset_info.json``) through
    LLaMA-Factory, against ``toolcall_templates.normalize`` + this template. A record the normalizer changes (a call
    it recovers from assistant text, say) is a different conversation: those are counted, not compared."""
    pairs, changed = [], 0
    for dataset in ("glaive_toolcall_en_demo", "glaive_toolcall_zh_demo"):
        lf = oracle(dataset)
        records = json.loads(shared_path("sources", GLAIVE, f"{dataset}.json").read_text(encoding="utf-8"))
        for record in records:
            row = normalize(record, "sharegpt")
            if not same_turns(record["conversations"], sharegpt_record(row)["conversations"]):
                changed += 1
                continue
            pairs.append(((row["messages"], tools_of(row)), lf.encode(record)))
    assert len(pairs) >= 470 and changed <= 10
    _compare(pairs, capsys, f"glaive demo records ({changed} that normalization changes not compared)")


def test_every_shared_conversation_renders_as_llamafactory_renders_it(capsys):
    """Every shared conversation LLaMA-Factory's ShareGPT format can hold, and LLaMA-Factory accepts."""
    pairs, refused = [], {}
    for row in shared_rows():
        record = sharegpt_record(row)
        if record is None:
            refused["no ShareGPT spelling (a system message after the first turn, non-text content)"] = refused.get(
                "no ShareGPT spelling (a system message after the first turn, non-text content)", 0) + 1
            continue
        try:
            encoded = oracle().encode(record)
        except Inexpressible as exc:
            reason = str(exc).split(":")[0]
            refused[reason] = refused.get(reason, 0) + 1
            continue
        pairs.append(((row["messages"], tools_of(row)), encoded))
    assert len(pairs) > 2000
    _compare(pairs, capsys, f"shared conversations (not expressible: {refused})")


def test_generation_prompt_is_llamafactorys_assistant_header():
    """LLaMA-Factory writes ``<|im_start|>assistant\\n`` at the end of every user and observation turn; this template
    writes it as the generation prompt (and before each assistant turn), so a conversation's inference prompt is
    LLaMA-Factory's prompt ids."""
    row = next(r for r in shared_rows() if r["meta"]["shared_file"].startswith(GLAIVE) and r["tools"]
               and any(m.get("tool_calls") for m in r["messages"]))
    index = next(i for i, m in enumerate(row["messages"]) if m.get("tool_calls"))
    prompt = render(NAME, row["messages"][:index], tools_of(row), add_generation_prompt=True)[0]
    assert prompt.endswith("<|im_start|>assistant\n")
    assert render(NAME, row["messages"], tools_of(row))[0].startswith(prompt)
    encoded = oracle().encode(sharegpt_record({**row, "messages": row["messages"][:index + 1]}))
    assert encoded.text.startswith(prompt)


def test_installing_on_qwen25_and_apply_chat_template():
    """Chosen by name (an agent style is never guessed), installed on the real Qwen2.5 tokenizer."""
    import copy

    from toolcall_templates.install import AGENT_TEMPLATES, apply_tool_template, detect_template_name

    assert NAME in AGENT_TEMPLATES
    tokenizer = copy.deepcopy(load_tokenizer("qwen2.5"))
    assert detect_template_name(tokenizer) == "qwen2.5"
    apply_tool_template(tokenizer, NAME)
    assert tokenizer.chat_template == get_template(NAME).source
    row = next(r for r in shared_rows() if r["meta"]["shared_file"].startswith(GLAIVE) and r["tools"])
    out = tokenizer.apply_chat_template(row["messages"], tools=tools_of(row), tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    text, ids, mask = our_encoding(row["messages"], tools_of(row))
    assert out["input_ids"] == ids and out["assistant_masks"] == mask
    assert pytest.approx(0.0) != sum(mask)


def test_tokenize_dataset_gives_llamafactorys_ids_and_labels(monkeypatch, capsys):
    """``tokenize_dataset`` with this template (rendered outside the sandbox, which is made to fail here; segment
    cache) gives LLaMA-Factory's own ids and labels, but for the ``\\n`` LLaMA-Factory trains after text turns (every
    fifth shared conversation)."""
    import copy

    from datasets import Dataset

    import transformers.utils.chat_template_utils as chat_template_utils
    from toolcall_templates import tokenize_dataset
    from toolcall_templates.schema import features

    def sandbox_used(*args, **kwargs):
        raise AssertionError("the sandbox renderer was used")

    expected = {}
    for row in shared_rows()[::5]:
        record = sharegpt_record(row)
        try:
            encoded = oracle().encode(record) if record else None
        except Inexpressible:
            continue
        if encoded is not None and row["messages"][-1]["role"] == "assistant":
            expected[row["id"]] = (row, encoded)
    monkeypatch.setattr(chat_template_utils, "_render_with_assistant_indices", sandbox_used)
    monkeypatch.setattr(chat_template_utils, "render_jinja_template", sandbox_used)
    dataset = Dataset.from_list([row for row, _ in expected.values()], features=features())
    tokenized, report = tokenize_dataset(dataset, copy.deepcopy(load_tokenizer("qwen2.5")), NAME, return_report=True,
                                         keep_columns=["id"], desc=None)
    assert set(report.dropped) <= {"control_token"}, report
    for out in tokenized:
        encoded = expected[out["id"]][1]
        assert out["input_ids"] == encoded.input_ids
        assert out["labels"] == labels_without_turn_newlines(encoded.input_ids, encoded.labels)
    with capsys.disabled():
        print(f"\n[llamafactory] tokenize_dataset: {len(tokenized)}/{len(tokenized)} rows with LLaMA-Factory's ids and "
              f"labels, dropped {dict(report.dropped)}", end="")
    assert len(tokenized) > 400
