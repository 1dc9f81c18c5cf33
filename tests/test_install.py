"""Installing shipped templates on tokenizers: detection, special-token checks, and masks after installation."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from conftest import load_tokenizer

from toolcall_templates.install import (
    AGENT_TEMPLATES,
    TemplateInstallError,
    apply_tool_template,
    detect_template_name,
    required_tokens,
)
from toolcall_templates.templates import get_template, list_templates, render

FAMILIES = ("qwen2.5", "qwen3", "glm4", "llama3.1", "llama3.2")
CONVERSATION = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "call_0", "name": "get_weather", "content": '{"temperature_c": 18}'},
    {"role": "assistant", "content": "It is 18 °C in Paris."},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


@contextmanager
def installed(family: str):
    """The cached fixture tokenizer, with its original chat template restored afterwards."""
    tokenizer = load_tokenizer(family)
    original = tokenizer.chat_template
    try:
        yield tokenizer
    finally:
        tokenizer.chat_template = original


class FakeTokenizer:
    """Just what detection reads: a chat template, a name and a vocabulary."""

    def __init__(self, name_or_path="", chat_template=None, vocab=()):
        self.name_or_path = name_or_path
        self.chat_template = chat_template
        self._vocab = {token: k for k, token in enumerate(vocab)}

    def get_vocab(self):
        return dict(self._vocab)

    def encode(self, text, add_special_tokens=False):
        return [self._vocab[text]] if text in self._vocab else [-1, -1]


def _shipped(name: str) -> None:
    if name not in list_templates():
        pytest.skip(f"template {name!r} is not shipped in jinja/ yet")


@pytest.mark.parametrize("family", FAMILIES)
def test_detects_the_template_of_every_fixture_tokenizer(family):
    with installed(family) as tokenizer:
        assert detect_template_name(tokenizer) == family


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_install_then_apply_chat_template_masks_generated_text(family):
    _shipped(family)
    spec = get_template(family)
    with installed(family) as tokenizer:
        assert apply_tool_template(tokenizer) is tokenizer
        assert tokenizer.chat_template == spec.source
        out = tokenizer.apply_chat_template(CONVERSATION, tools=TOOLS, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True, **spec.default_kwargs)
        ids, mask = out["input_ids"], out["assistant_masks"]
        assert len(ids) == len(mask) and sum(mask) > 0
        text, _ = render(spec, CONVERSATION, TOOLS)
        assert tokenizer.decode(ids) == text
        assert "It is 18 °C in Paris." in tokenizer.decode([t for t, m in zip(ids, mask) if m])
        assert "temperature_c" not in tokenizer.decode([t for t, m in zip(ids, mask) if m])


@pytest.mark.parametrize("name", AGENT_TEMPLATES)
@pytest.mark.parametrize("family", ("qwen2.5", "qwen3"))
def test_agent_templates_install_on_chatml_tokenizers(family, name):
    with installed(family) as tokenizer:
        apply_tool_template(tokenizer, name)
        assert detect_template_name(tokenizer) == name
        out = tokenizer.apply_chat_template(CONVERSATION, tools=TOOLS, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True, observation_separator=" ")
        text, spans = render(name, CONVERSATION, TOOLS, observation_separator=" ")
        trained = tokenizer.decode([t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m])
        assert trained == "".join(text[a:b] for a, b in spans)
        assert trained.endswith("It is 18 °C in Paris.<|im_end|>")


@pytest.mark.parametrize("family, name", [("qwen2.5", "glm4"), ("qwen3", "llama3.1"), ("glm4", "chatml-react-en"),
                                          ("llama3.1", "qwen2.5"), ("llama3.2", "chatml-function-call"),
                                          ("glm4", "llama3.2")])
def test_wrong_family_is_refused_with_the_missing_tokens(family, name):
    _shipped(name)
    with installed(family) as tokenizer:
        before = tokenizer.chat_template
        with pytest.raises(TemplateInstallError, match="needs the special token"):
            apply_tool_template(tokenizer, name)
        assert tokenizer.chat_template == before, "a refused installation leaves the tokenizer untouched"


def test_required_tokens_include_the_markers_written_by_the_template():
    assert required_tokens(get_template("chatml-react-en")) == ("<|im_start|>", "<|im_end|>")
    for name in list_templates():
        spec = get_template(name)
        assert set(spec.required_tokens) <= set(required_tokens(spec))


def test_tokens_that_text_would_split_are_refused():
    tokenizer = FakeTokenizer(vocab=["<|im_start|>", "<|im_end|>"])
    tokenizer.encode = lambda text, add_special_tokens=False: [1, 2, 3]
    with pytest.raises(TemplateInstallError, match="single special tokens"):
        apply_tool_template(tokenizer, "chatml-react-en")


def test_installs_on_a_processor_through_its_tokenizer():
    class Processor:
        def __init__(self, tokenizer):
            self.tokenizer, self.chat_template = tokenizer, None

    processor = Processor(FakeTokenizer(vocab=["<|im_start|>", "<|im_end|>"]))
    assert apply_tool_template(processor, "chatml-function-call") is processor
    assert processor.chat_template == get_template("chatml-function-call").source


def test_unknown_template_name():
    with pytest.raises(ValueError, match="unknown template"):
        apply_tool_template(FakeTokenizer(vocab=["<|im_start|>", "<|im_end|>"]), "no-such-template")


@pytest.mark.parametrize("name_or_path, expected", [
    ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5"), ("Qwen/Qwen3-0.6B", "qwen3"), ("THUDM/glm-4-9b-chat", "glm4"),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct", "llama3.1"), ("meta-llama/Llama-3.2-3B-Instruct", "llama3.2"),
    ("/models/qwen2_5-coder", "qwen2.5"),
])
def test_detects_from_the_name_when_there_is_no_template(name_or_path, expected):
    assert detect_template_name(FakeTokenizer(name_or_path)) == expected


@pytest.mark.parametrize("vocab, expected", [
    (["<|im_start|>", "<|im_end|>", "<tool_call>"], "qwen2.5"),
    (["<|im_start|>", "<|im_end|>", "<tool_call>", "<think>"], "qwen3"),
    (["[gMASK]", "<sop>", "<|observation|>"], "glm4"),
])
def test_detects_from_special_tokens(vocab, expected):
    assert detect_template_name(FakeTokenizer("my-model", vocab=vocab)) == expected


def test_detection_failures_explain_what_to_do():
    with pytest.raises(TemplateInstallError, match="chatml-react-en"):
        detect_template_name(FakeTokenizer("some/chatml-model", "{{ '<|im_start|>' }}", ["<|im_start|>",
                                                                                     "<|im_end|>"]))
    with pytest.raises(TemplateInstallError, match="Llama 3.1 from 3.2"):
        detect_template_name(FakeTokenizer("my-llama", None, ["<|start_header_id|>", "<|eot_id|>"]))
    with pytest.raises(TemplateInstallError, match="cannot detect"):
        detect_template_name(FakeTokenizer("gpt2", "{{ messages }}", ["hello"]))
    with pytest.raises(TemplateInstallError, match="not a tokenizer"):
        detect_template_name(object())
