"""Generation blocks of the current-generation templates cover exactly what the model generates at inference.

The tokenizers of GLM-4.5+ and Qwen3.5+ are not in ``../shared``; masks are checked with stand-ins: the nearest
fixture tokenizer with the template's special tokens added (``glm4`` for GLM-4.5, ``qwen3`` for Qwen3.5+, whose
vocabulary already holds ``<think>``, ``<tool_call>``...). Qwen3-Instruct-2507 uses Qwen3's own tokenizer, and
``chatml-llamafactory`` the real Qwen2.5 one.

The oracle is computed from the original's render alone (TRL's originals; LLaMA-Factory for ``chatml-llamafactory``
is in ``test_llamafactory_template.py``): the generation prompt is what the original appends with
``add_generation_prompt=True``; at each assistant header of the text, what follows the generation prompt (or, for a
turn rendered with reasoning while thinking is off, the thinking-on prompt, or else the bare header) through the
stop token is generated: ``<|im_end|>`` for ChatML, the next role token for GLM-4.5. Character spans map to tokens as
``apply_chat_template(return_assistant_tokens_mask=True)`` maps them.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import groupby
from typing import Any

import pytest

from conftest import stand_in_tokenizer
from test_template_masks import span_mask
from test_template_parity import render_source, shared_rows, tools_of
from test_templates_current import CURRENT, FLAGS, current_cases, flag_label, trl_original
from toolcall_templates.templates import get_template, render

GLM_ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", "<|observation|>")
GLM45_STAND_IN_TOKENS = ("[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>", "<think>",
                         "</think>", "<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>",
                         "</arg_value>", "<tool_response>", "</tool_response>", "/nothink")
"""GLM-4.5's added tokens that its template writes (``/nothink`` is one of them)."""
STAND_IN: dict[str, tuple[str, tuple[str, ...]]] = {
    "glm4.5": ("glm4", GLM45_STAND_IN_TOKENS),
    "qwen3-instruct-2507": ("qwen3", ()),
    "qwen3.5": ("qwen3", ()),
    "qwen3.5-nothink": ("qwen3", ()),
    "qwen3.6": ("qwen3", ()),
    "qwen3.8": ("qwen3", ()),
    "chatml-llamafactory": ("qwen2.5", ()),
}


def stand_in_for(name: str, chat_template: str | None = None):
    """The tokenizer the masks of ``name`` are checked with (see the module docstring)."""
    base, tokens = STAND_IN[name]
    return stand_in_tokenizer(base, tokens, chat_template=chat_template)


# ---------------------------------------------------------------- the oracle -------------------------------------
@lru_cache(maxsize=None)
def generation_prompt(name: str, flags: tuple[tuple[str, Any], ...]) -> str:
    """What the original appends for ``add_generation_prompt=True``."""
    source, kwargs = trl_original(name), dict(flags)
    messages = [{"role": "user", "content": "x"}]
    with_prompt = render_source(source, messages, None, add_generation_prompt=True, **kwargs)
    without = render_source(source, messages, None, **kwargs)
    assert with_prompt.startswith(without)
    return with_prompt[len(without):]


def oracle_spans(name: str, text: str, kwargs: dict[str, Any]) -> list[tuple[int, int]]:
    """Generated character spans of an original's render (see the module docstring)."""
    glm = name.startswith("glm")
    header = "<|assistant|>" if glm else "<|im_start|>assistant\n"
    prompts = [generation_prompt(name, tuple(kwargs.items()))]
    if "enable_thinking" in trl_original(name):
        prompts.append(generation_prompt(name, tuple({**kwargs, "enable_thinking": True}.items())))
    spans, position = [], text.find(header)
    while position >= 0:
        start = next((position + len(p) for p in prompts if text.startswith(p, position)), position + len(header))
        ends = [text.find(stop, start) for stop in (GLM_ROLE_TOKENS if glm else ("<|im_end|>",))]
        stop = min((end for end in ends if end >= 0), default=-1)
        end = len(text) if stop < 0 else text.index(">", stop) + 1
        spans.append((start, end))
        position = text.find(header, start if glm else end)
    return spans


def ambiguous(row: dict) -> bool:
    """An assistant message whose content itself starts with ``<think>``: rendered without a think block (before the
    last user query, or with ``reasoning_content: ""``), its text cannot be told from the think block of a generation
    prompt, so a text-only oracle cannot place the generated span. Such conversations are counted, not compared."""
    return any(m["role"] == "assistant" and (m.get("content") or "").lstrip().startswith("<think>")
               for m in row["messages"])


def mask_of(tokenizer, text: str, spans: list[tuple[int, int]]) -> list[int]:
    encoding = tokenizer([text], add_special_tokens=False)
    return span_mask(encoding, 0, spans, len(encoding["input_ids"][0]))


# ---------------------------------------------------------------- masks ------------------------------------------
@pytest.mark.parametrize("name", sorted(CURRENT))
def test_generation_mask_equals_the_oracle_on_every_shared_conversation(name, capsys):
    tokenizer = stand_in_for(name)
    results = []
    for kwargs in FLAGS[name][:2]:  # the defaults and the other thinking mode
        expressible = [c for c in current_cases(name, flag_label(kwargs)) if c.skip_reason is None]
        cases = [c for c in expressible if not ambiguous(c.row)]
        texts = [c.ours for c in cases]
        encodings = tokenizer(texts, add_special_tokens=False)
        mismatches, trained = [], 0
        for index, case in enumerate(cases):
            length = len(encodings["input_ids"][index])
            got = span_mask(encodings, index, case.spans, length)
            expected = span_mask(encodings, index, oracle_spans(name, case.official, kwargs), length)
            trained += sum(got)
            if got != expected:
                mismatches.append(case.row["meta"]["shared_file"])
        results.append(f"{flag_label(kwargs)} {len(cases) - len(mismatches)}/{len(cases)} ({trained} trained tokens"
                       f", {len(expressible) - len(cases)} with <think> in content not compared)")
        assert not mismatches, (flag_label(kwargs), mismatches[:5])
    with capsys.disabled():
        print(f"\n[masks] {name} (stand-in {STAND_IN[name][0]}): " + "; ".join(results), end="")


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_apply_chat_template_assistant_masks_agree(name):
    """transformers' own ``return_assistant_tokens_mask`` path with the template installed on the stand-in (every
    40th conversation, every flag)."""
    tokenizer = stand_in_for(name)
    source = get_template(name).source
    for kwargs in FLAGS[name]:
        cases = [c for c in current_cases(name, flag_label(kwargs)) if c.skip_reason is None
                 and not ambiguous(c.row)][::40]
        for case in cases:
            out = tokenizer.apply_chat_template(case.row["messages"], tools=tools_of(case.row), chat_template=source,
                                                tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                                **kwargs)
            assert tokenizer.decode(out["input_ids"]) == case.official
            expected = mask_of(tokenizer, case.official, oracle_spans(name, case.official, kwargs))
            assert out["assistant_masks"] == expected


TURN = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
    {"role": "tool", "content": "18C"},
    {"role": "assistant", "content": "Paris: 18C.", "reasoning_content": "The tool said 18C."},
    {"role": "user", "content": "Thanks"},
    {"role": "assistant", "content": "You're welcome."},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}}]
XML_CALL = ("<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n2\n"
            "</parameter>\n</function>\n</tool_call><|im_end|>")
EXPECTED_TRAINED = {
    "glm4.5": ["\n<think></think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
               "<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call><|observation|>",
               "\n<think></think>\nParis: 18C.<|user|>", "\n<think></think>\nYou're welcome.<|user|>"],
    "qwen3-instruct-2507": ['<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}\n'
                            '</tool_call><|im_end|>', "Paris: 18C.<|im_end|>", "You're welcome.<|im_end|>"],
    "qwen3.5": [XML_CALL, "Paris: 18C.<|im_end|>", "\n\n</think>\n\nYou're welcome.<|im_end|>"],
    "qwen3.8": ["\n\n</think>\n\n" + XML_CALL, "The tool said 18C.\n</think>\n\nParis: 18C.<|im_end|>",
                "\n\n</think>\n\nYou're welcome.<|im_end|>"],
}
"""With thinking on, a turn without reasoning is ``<think>\n`` (the prompt) + ``\n</think>\n\n...``: BPE merges the
two newlines into one token, which is trained (it holds a generated character), so its run decodes with both."""


@pytest.mark.parametrize("name", sorted(EXPECTED_TRAINED))
def test_trained_tokens_of_a_known_conversation(name):
    """Readable check: the trained runs decode to exactly the generated text, stop token included, nothing after it
    (the reasoning of the turn before the last user message is dropped by glm4.5 and qwen3.5, kept by qwen3.8)."""
    tokenizer = stand_in_for(name)
    kwargs = {"add_stop_token": True} if name == "glm4.5" else {}
    out = tokenizer.apply_chat_template(TURN, tools=TOOLS, chat_template=get_template(name).source, tokenize=True,
                                        return_dict=True, return_assistant_tokens_mask=True, **kwargs)
    pairs = zip(out["input_ids"], out["assistant_masks"])
    runs = [[token for token, _ in run] for trained, run in groupby(pairs, key=lambda pair: pair[1]) if trained]
    assert [tokenizer.decode(run) for run in runs] == EXPECTED_TRAINED[name]


def test_glm45_stop_token_after_a_final_assistant_turn():
    """``add_stop_token`` (the sidecar's ``stop_token_kwarg``) appends and trains <|observation|> after calls,
    <|user|> after text, as GLM-4's template does."""
    assert get_template("glm4.5").stop_token_kwarg == "add_stop_token"
    tokenizer = stand_in_for("glm4.5")
    cases = [c for c in current_cases("glm4.5") if c.skip_reason is None and not ambiguous(c.row)
             and c.row["messages"][-1]["role"] == "assistant"][::7]
    assert len(cases) > 100
    for case in cases:
        stop = "<|observation|>" if case.row["messages"][-1].get("tool_calls") else "<|user|>"
        text, spans = render("glm4.5", case.row["messages"], tools_of(case.row), add_stop_token=True)
        assert text == case.official + stop
        assert mask_of(tokenizer, text, spans) == mask_of(tokenizer, text, oracle_spans("glm4.5", text, {}))
        assert tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"][-1]) == stop


# ---------------------------------------------------------------- tokenization ------------------------------------
@pytest.mark.parametrize("name", sorted(CURRENT))
def test_tokenize_dataset_renders_outside_the_sandbox_and_labels_equal_the_oracle(name, monkeypatch, capsys):
    """``tokenize_dataset`` renders these templates outside transformers' sandbox (the sandbox is made to fail here)
    and encodes the texts with its segment cache. A conversation that one row holds exactly (every one for a template
    that rewrites no history, and those whose turns chain exactly otherwise) has the ids of its render and the
    oracle's labels. The others become one row per turn (``history="split"``, see the history tests)."""
    from collections import Counter

    from datasets import Dataset

    import transformers.utils.chat_template_utils as chat_template_utils
    from toolcall_templates import tokenize_dataset
    from toolcall_templates.schema import features

    def sandbox_used(*args, **kwargs):
        raise AssertionError("the sandbox renderer was used")

    spec = get_template(name)
    cases = {c.row["id"]: c for c in current_cases(name) if c.skip_reason is None and not ambiguous(c.row)
             and c.row["messages"][-1]["role"] == "assistant"}
    sample = list(cases.values())[::5]
    tokenizer = stand_in_for(name)
    monkeypatch.setattr(chat_template_utils, "_render_with_assistant_indices", sandbox_used)
    monkeypatch.setattr(chat_template_utils, "render_jinja_template", sandbox_used)
    dataset = Dataset.from_list([c.row for c in sample], features=features())
    tokenized, report = tokenize_dataset(dataset, tokenizer, name, return_report=True, keep_columns=["id"], desc=None)
    assert set(report.dropped) <= {"control_token", "prompt_mismatch"}, report
    rows_per_id = Counter(tokenized["id"])
    compared = 0
    for row in tokenized:
        case = cases[row["id"]]
        messages = case.row["messages"]
        turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        if rows_per_id[row["id"]] > 1 or (spec.rewrites_history and len(turns) > 1):
            continue
        stop = ("<|observation|>" if messages[-1].get("tool_calls") else "<|user|>") if spec.stop_token_kwarg else ""
        text = case.official + stop
        if spec.rewrites_history:  # per-turn path: the inference prompt's ids, then the generated ids
            prompt = render_source(trl_original(name), messages[:turns[0]], tools_of(case.row),
                                   add_generation_prompt=True)
            ids, labels = _prompt_then_generated(tokenizer, prompt, text[len(prompt):], spec.stop_tokens)
        else:  # fast path: the render's ids, labels on the generation spans
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            labels = [i if m else -100 for i, m in zip(ids, mask_of(tokenizer, text, oracle_spans(name, text, {})))]
        assert (row["input_ids"], row["labels"]) == (ids, labels), row["id"]
        compared += 1
    split = sum(count > 1 for count in rows_per_id.values())
    with capsys.disabled():
        print(f"\n[tokenize] {name}: {compared}/{compared} conversations compared equal the oracle, {split} split "
              f"into per-turn rows, dropped {dict(report.dropped)}", end="")
    assert compared > 100


def _prompt_then_generated(tokenizer, prompt: str, rest: str, stops: tuple[str, ...]) -> tuple[list[int], list[int]]:
    """Ids and labels of one turn as the model sees it: the prompt's ids, then the rest's, trained through the first
    stop token."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    rest_ids = tokenizer(rest, add_special_tokens=False)["input_ids"]
    stop_ids = set(tokenizer.convert_tokens_to_ids(list(stops)))
    end = next(i for i, token in enumerate(rest_ids) if token in stop_ids) + 1
    return prompt_ids + rest_ids, [-100] * len(prompt_ids) + rest_ids[:end] + [-100] * (len(rest_ids) - end)


# ---------------------------------------------------------------- history ----------------------------------------
HISTORY = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "It is 18C.", "reasoning_content": "Recall the forecast."},
    {"role": "user", "content": "And tomorrow?"},
    {"role": "assistant", "content": "20C.", "reasoning_content": "Recall tomorrow's forecast."},
]
REWRITES = {"glm4.5": {}, "qwen3.5": {}, "qwen3.5-nothink": {"enable_thinking": True}, "qwen3.6": {},
            "qwen3.8": {"preserve_thinking": False}}
"""Templates that drop earlier reasoning, with the flags under which they do."""
PRESERVES = {"qwen3.6": {"preserve_thinking": True}, "qwen3.8": {}}


def _prompt_is_prefix(name: str, messages: list[dict], **kwargs: Any) -> bool:
    full = render(name, messages, None, **kwargs)[0]
    prompt = render(name, messages[:1], None, add_generation_prompt=True, **kwargs)[0]
    return full.startswith(prompt) and "Recall the forecast." in full


def test_templates_that_rewrite_history_say_so_in_their_sidecar():
    """The first turn's inference prompt is a prefix of the full render only where the template keeps its reasoning
    (``rewrites_history`` names the others, for the per-turn tokenization path)."""
    for name, kwargs in REWRITES.items():
        assert get_template(name).rewrites_history, name
        assert not _prompt_is_prefix(name, HISTORY, **kwargs), name
    for name, kwargs in PRESERVES.items():
        assert _prompt_is_prefix(name, HISTORY, **kwargs), name
    for name in ("qwen3-instruct-2507", "chatml-llamafactory"):
        assert get_template(name).rewrites_history is None


@pytest.mark.parametrize("name", ["qwen3-instruct-2507", "chatml-llamafactory"])
def test_every_inference_prompt_is_a_prefix_of_the_full_render(name):
    """No history rewriting: for every assistant turn of every shared conversation, the generation-prompt render of
    the conversation before it is a prefix of the full render."""
    checked = 0
    for row in shared_rows()[::2]:
        messages, tools = row["messages"], tools_of(row)
        full = render(name, messages, tools)[0]
        for index, message in enumerate(messages):
            if message["role"] == "assistant" and index:
                assert full.startswith(render(name, messages[:index], tools, add_generation_prompt=True)[0])
                checked += 1
    assert checked > 1500


LONG_ANSWER = "It is 18C in Paris today, with a light breeze from the west and clear skies all afternoon."


@pytest.mark.parametrize("answer", ["It is 18C.", LONG_ANSWER], ids=["short answer", "long answer"])
@pytest.mark.parametrize("name", sorted(REWRITES))
def test_tokenization_trains_each_turn_on_what_the_model_saw(name, answer):
    """Where history is rewritten, a conversation becomes one row per turn the model saw differently: the first turn
    is trained with its reasoning, in a row that ends with it; the second row's prompt is what the model was given
    then, without the first turn's reasoning. (A GLM turn's end is found again in the rewritten render; a short
    answer after dropped reasoning is the hard case.)"""
    from toolcall_templates.tokenization.tokenize import tokenize_conversation_rows

    messages = [*HISTORY[:1], {**HISTORY[1], "content": answer}, *HISTORY[2:]]
    tokenizer = stand_in_for(name)
    kwargs = REWRITES[name]
    rows = tokenize_conversation_rows({"messages": messages, "tools": None}, tokenizer, name, template_kwargs=kwargs)
    assert len(rows) == 2
    first, second = (tokenizer.decode(row["input_ids"]) for row in rows)
    trained = [tokenizer.decode([i for i in row["labels"] if i != -100]) for row in rows]
    assert "Recall the forecast." in trained[0] and answer in trained[0]
    spec = get_template(name)
    stop = {spec.stop_token_kwarg: True} if spec.stop_token_kwarg else {}
    assert first == render(name, messages[:2], None, **kwargs, **stop)[0].removesuffix("\n")
    assert second.startswith(render(name, messages[:3], None, add_generation_prompt=True, **kwargs)[0])
    assert "Recall the forecast." not in second and "Recall tomorrow's forecast." in trained[1]
