"""Detection and installation of the current-generation templates: by the official template's fingerprint (TRL's
originals stand in for the tokenizers' own), by name, by vocabulary; models whose format is not shipped are refused
with the reason instead of getting a near-miss template."""

from __future__ import annotations

import pytest

from test_install import FakeTokenizer
from test_template_parity import render_source
from test_template_masks_current import GLM45_STAND_IN_TOKENS, mask_of, oracle_spans, stand_in_for
from test_templates_current import CURRENT, trl_original
from toolcall_templates.install import TemplateInstallError, apply_tool_template, detect_template_name
from toolcall_templates.templates import get_template

CHATML = ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<think>", "</think>"]


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_the_official_template_is_recognized(name):
    tokenizer = FakeTokenizer("some/local-path", trl_original(name), CHATML)
    assert detect_template_name(tokenizer) == name


@pytest.mark.parametrize(("name_or_path", "expected"), [
    ("zai-org/GLM-4.5", "glm4.5"), ("zai-org/GLM-4.5-Air-FP8", "glm4.5"), ("zai-org/GLM-4.6", "glm4.5"),
    ("/models/glm_4.6", "glm4.5"), ("THUDM/glm-4-9b-chat", "glm4"),
    ("Qwen/Qwen3-4B-Instruct-2507", "qwen3-instruct-2507"), ("Qwen/Qwen3-235B-A22B-Instruct-2507-FP8",
                                                             "qwen3-instruct-2507"),
    ("Qwen/Qwen3.5-0.8B", "qwen3.5-nothink"), ("Qwen/Qwen3.5-2B", "qwen3.5-nothink"), ("Qwen/Qwen3.5-4B", "qwen3.5"),
    ("Qwen/Qwen3.5-35B-A3B", "qwen3.5"), ("Qwen/Qwen3.6-27B", "qwen3.6"), ("Qwen/Qwen3.6-35B-A3B-FP8", "qwen3.6"),
    ("Qwen/Qwen3.8-27B", "qwen3.8"), ("Qwen/Qwen3-8B", "qwen3"), ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5"),
])
def test_names_are_recognized_without_the_family_names_stealing_them(name_or_path, expected):
    assert detect_template_name(FakeTokenizer(name_or_path, None, [])) == expected


@pytest.mark.parametrize(("name_or_path", "reason"), [
    ("zai-org/GLM-4.7", "GLM-4.7 writes no newlines"),
    ("Qwen/Qwen3-4B-Thinking-2507", "Thinking-2507 opens every generation"),
    ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "Qwen3-Coder has its own XML tool prompt"),
    ("/models/qwen3.5-instruct", "name gives no size"),
])
def test_models_whose_format_is_not_shipped_are_refused_with_the_reason(name_or_path, reason):
    with pytest.raises(TemplateInstallError, match=reason):
        detect_template_name(FakeTokenizer(name_or_path, None, []))


def test_templates_whose_format_is_not_shipped_are_refused():
    """A GLM-4-MoE template in GLM-4.7's compact spelling, a Qwen3 template without enable_thinking (Thinking-2507)
    and an XML-call template without thinking (Qwen3-Coder) are told apart from the shipped ones."""
    glm47 = "[gMASK]<sop><|system|>\n<tool_call>{function-name}<arg_key>{arg-key-1}</arg_key> {{ clear_thinking }}"
    thinking = "<|im_start|>assistant\n<think>\n <tool_call>"
    coder = "<|im_start|>system\n<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>"
    for template, reason in ((glm47, "GLM-4.7"), (thinking, "Thinking-2507"), (coder, "Qwen3-Coder")):
        with pytest.raises(TemplateInstallError, match=reason):
            detect_template_name(FakeTokenizer("some/local-path", template, CHATML))


def test_a_qwen25_template_with_its_own_system_prompt_stays_qwen25():
    """Fine-tunes of Qwen2.5 often replace the default system prompt; what tells 2507 from 2.5 is how the texts
    render, not that sentence."""
    from pathlib import Path

    import trl

    official = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text(encoding="utf-8")
    qwen25 = official.replace("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                              "You are Acme's support assistant.")
    assert "Alibaba" not in qwen25
    assert detect_template_name(FakeTokenizer("some/local-path", qwen25, CHATML)) == "qwen2.5"
    assert detect_template_name(FakeTokenizer("some/local-path", trl_original("qwen3-instruct-2507"),
                                              CHATML)) == "qwen3-instruct-2507"


def test_glm45_is_told_from_glm4_by_its_vocabulary():
    assert detect_template_name(FakeTokenizer("local", None, GLM45_STAND_IN_TOKENS)) == "glm4.5"
    assert detect_template_name(FakeTokenizer("local", None, ["[gMASK]", "<|observation|>"])) == "glm4"


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_auto_install_on_a_stand_in_carrying_the_official_template(name):
    """``apply_tool_template(tokenizer)`` detects the template from the tokenizer's own (official) one, installs it,
    and ``apply_chat_template`` then gives the official text with masks on exactly the generated tokens."""
    from test_templates_current import NULL_CONTENT_CONVERSATION, WEATHER_TOOLS

    tokenizer = stand_in_for(name, chat_template=trl_original(name))
    try:
        assert apply_tool_template(tokenizer) is tokenizer
        assert tokenizer.chat_template == get_template(name).source
        messages = [{**m, "content": m["content"] or ""} for m in NULL_CONTENT_CONVERSATION]
        for m in messages:
            for call in m.get("tool_calls") or []:
                call["function"] = {**call["function"], "arguments": {"city": "Paris"}}
        out = tokenizer.apply_chat_template(messages, tools=WEATHER_TOOLS, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
        official = render_source(trl_original(name), messages, WEATHER_TOOLS)
        assert tokenizer.decode(out["input_ids"]) == official
        assert out["assistant_masks"] == mask_of(tokenizer, official, oracle_spans(name, official, {}))
        assert sum(out["assistant_masks"]) > 0
    finally:
        tokenizer.chat_template = trl_original(name)


def test_installing_a_glm45_template_on_a_qwen_tokenizer_is_refused():
    from conftest import load_tokenizer

    tokenizer = load_tokenizer("qwen3")
    before = tokenizer.chat_template
    with pytest.raises(TemplateInstallError, match="needs the special token"):
        apply_tool_template(tokenizer, "glm4.6")
    assert tokenizer.chat_template == before
