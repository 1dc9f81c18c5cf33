"""Install a shipped chat template on a Hugging Face tokenizer, detecting which one fits when no name is given.

Detection looks, in order, at the tokenizer's current chat template (an already installed shipped template, then
fingerprints of the official Qwen2.5 / Qwen3 / Qwen3-Instruct-2507 / Qwen3.5 / Qwen3.6 / Qwen3.8 / GLM-4 / GLM-4.5 /
Llama 3.1 / Llama 3.2 templates), at ``name_or_path``, and at the special tokens of its vocabulary. ChatML tokenizers
without native tool support are not guessed: the agent styles (``chatml-react-en``, ``chatml-react-zh``,
``chatml-toolbench``, ``chatml-function-call``, ``chatml-llamafactory``) are a choice to make by name. Models of these
families whose format no shipped template reproduces (GLM-4.7, Qwen3 Thinking-2507, Qwen3-Coder) are refused with
the reason, never given a near miss.
"""

from __future__ import annotations

import re
from typing import Any

from .templates import ChatTemplate, get_template, list_templates

AGENT_TEMPLATES = ("chatml-react-en", "chatml-react-zh", "chatml-toolbench", "chatml-function-call",
                   "chatml-llamafactory")

_NAME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("glm4.7", re.compile(r"glm[-_ ]?4[._]7(?!\d)", re.IGNORECASE)),
    ("glm4.5", re.compile(r"glm[-_ ]?4[._][56](?!\d)", re.IGNORECASE)),
    ("qwen3-coder", re.compile(r"qwen[-_ ]?3(?![.\d]).*coder", re.IGNORECASE)),
    ("qwen3-thinking-2507", re.compile(r"qwen[-_ ]?3(?![.\d]).*thinking[-_ ]?2507", re.IGNORECASE)),
    ("qwen3-instruct-2507", re.compile(r"qwen[-_ ]?3(?![.\d]).*2507", re.IGNORECASE)),
    ("qwen3.5", re.compile(r"qwen[-_ ]?3[._]5(?!\d)", re.IGNORECASE)),
    ("qwen3.6", re.compile(r"qwen[-_ ]?3[._]6(?!\d)", re.IGNORECASE)),
    ("qwen3.8", re.compile(r"qwen[-_ ]?3[._]8(?!\d)", re.IGNORECASE)),
    ("qwen3", re.compile(r"qwen[-_ ]?3(?![.\d])", re.IGNORECASE)),
    ("qwen2.5", re.compile(r"qwen[-_ ]?2[._]5", re.IGNORECASE)),
    ("glm4", re.compile(r"glm[-_ ]?4(?![.\d])", re.IGNORECASE)),
    ("llama3.1", re.compile(r"llama[-_ ]?3[._]1(?!\d)", re.IGNORECASE)),
    ("llama3.2", re.compile(r"llama[-_ ]?3[._]2(?!\d)", re.IGNORECASE)),
)
"""First match wins: the more specific names come before the family names they contain."""

NOT_SHIPPED: dict[str, str] = {
    "glm4.7": "GLM-4.7 writes no newlines after role tokens or inside calls, closes an empty reasoning block with "
              "</think> alone and takes clear_thinking; glm4.5 (GLM-4.5 / GLM-4.6) would train another format",
    "qwen3-thinking-2507": "Qwen3 Thinking-2507 opens every generation with <think> and has no enable_thinking; "
                           "qwen3 (the hybrid template) would train another format",
    "qwen3-coder": "Qwen3-Coder has its own XML tool prompt; qwen3 would train another format",
}
"""Models detected by name or template whose format no shipped template reproduces, and why."""

QWEN35_NOTHINK_MAX_BILLIONS = 2.0
"""Qwen3.5 checkpoints up to this size ship the thinking-off template (TRL: 2B and smaller), larger ones thinking-on."""
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)[bB](?![a-zA-Z])")


_MARKER = re.compile(r"<\|[A-Za-z0-9_]+\|>")


class TemplateInstallError(ValueError):
    """The template cannot be installed on this tokenizer, or no template can be chosen for it."""


def detect_template_name(tokenizer: Any) -> str:
    """Name of the shipped template that fits ``tokenizer``; raises TemplateInstallError when none can be told."""
    chat_template = _chat_template_text(tokenizer)
    installed = _installed_template(chat_template)
    if installed:
        return installed
    from_template = _from_chat_template(chat_template)
    if from_template and from_template != "chatml":
        return _shipped(from_template, "its chat template")
    name_or_path = str(getattr(tokenizer, "name_or_path", "") or "")
    from_name = _from_name(name_or_path)
    if from_name:
        return _shipped(from_name, f"its name {name_or_path!r}")
    from_vocab = _from_vocab(_vocab(tokenizer))
    if from_vocab and from_vocab not in ("chatml", "llama3"):
        return from_vocab
    if "chatml" in (from_template, from_vocab):
        raise TemplateInstallError(
            "the tokenizer uses ChatML without native tool-call support; choose an agent style by name: "
            + ", ".join(AGENT_TEMPLATES)
        )
    if from_vocab == "llama3":
        raise TemplateInstallError(
            "the tokenizer has the Llama 3 special tokens but neither its chat template nor its name tells Llama 3.1 "
            "from 3.2; pass name='llama3.1' or name='llama3.2'"
        )
    raise TemplateInstallError(
        f"cannot detect a template for tokenizer {getattr(tokenizer, 'name_or_path', '')!r} (no known chat template, "
        f"name or special tokens); pass one of: {', '.join(list_templates())}"
    )


def apply_tool_template(tokenizer: Any, name: str | None = None) -> Any:
    """Set ``tokenizer.chat_template`` to the shipped template ``name`` (detected when omitted); return the tokenizer.

    Raises:
        TemplateInstallError: the tokenizer lacks a special token the template needs (e.g. a Qwen tokenizer asked
            for ``glm4``), or no template can be detected.
        ValueError: ``name`` is not a shipped template.

    Render arguments from the template's sidecar (``ChatTemplate.default_kwargs``) are not stored on the tokenizer:
    pass them to ``apply_chat_template`` yourself, or render with ``toolcall_templates.templates.render``.
    """
    spec = get_template(name or detect_template_name(tokenizer))
    check_required_tokens(tokenizer, spec)
    tokenizer.chat_template = spec.source
    return tokenizer


def required_tokens(spec: ChatTemplate) -> tuple[str, ...]:
    """Special tokens a template writes: the sidecar's ``required_tokens`` plus each ``<|...|>`` marker in the source."""
    found = dict.fromkeys([*spec.required_tokens, *_MARKER.findall(spec.source)])
    return tuple(found)


def check_required_tokens(tokenizer: Any, spec: ChatTemplate) -> None:
    """Raise TemplateInstallError unless every required token of ``spec`` is one special token of ``tokenizer``."""
    vocab = _vocab(tokenizer)
    needed = required_tokens(spec)
    missing = [token for token in needed if token not in vocab]
    if missing:
        raise TemplateInstallError(
            f"template {spec.name!r} needs the special token(s) {', '.join(missing)}, which tokenizer "
            f"{getattr(tokenizer, 'name_or_path', '')!r} does not have: the template is for another model family"
        )
    split = [token for token in needed if _encode(tokenizer, token) != [vocab[token]]]
    if split:
        raise TemplateInstallError(
            f"template {spec.name!r} needs {', '.join(split)} to be single special tokens, but tokenizer "
            f"{getattr(tokenizer, 'name_or_path', '')!r} splits them into pieces when they appear in text"
        )


def _chat_template_text(tokenizer: Any) -> str:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default") or next(iter(template.values()), None)
    return template if isinstance(template, str) else ""


def _installed_template(chat_template: str) -> str | None:
    if not chat_template:
        return None
    for name in list_templates():
        if get_template(name).source == chat_template:
            return name
    return None


def _shipped(name: str, evidence: str) -> str:
    """``name``, or TemplateInstallError when it names a model whose format is not shipped."""
    if name in NOT_SHIPPED:
        raise TemplateInstallError(
            f"{evidence} identifies {name}, whose chat format no shipped template reproduces: {NOT_SHIPPED[name]}. "
            "Use the tokenizer's own chat template (tokenize_dataset(..., template='own'))")
    return name


def _from_chat_template(chat_template: str) -> str | None:
    """Fingerprints of the official templates (stable strings each one contains)."""
    if "[gMASK]" in chat_template:
        if "<arg_key>" not in chat_template:
            return "glm4"
        return "glm4.7" if "clear_thinking" in chat_template or "}<arg_key>" in chat_template else "glm4.5"
    if "<|start_header_id|>" in chat_template:
        if "builtin_tools" in chat_template:
            return "llama3.1"
        if "strftime_now" in chat_template:
            return "llama3.2"
        return None
    if "<|im_start|>" in chat_template:
        if "<function=" in chat_template and "<parameter=" in chat_template:
            return _qwen_xml_template(chat_template)
        if "<think>" in chat_template:
            return "qwen3" if "enable_thinking" in chat_template else "qwen3-thinking-2507"
        if "<tool_call>" in chat_template:
            return _qwen_json_template(chat_template)
        return "chatml"
    return None


def _qwen_json_template(chat_template: str) -> str:
    """Qwen2.5 or Qwen3-Instruct-2507 (JSON calls, no think block) by what their texts do differently, not by the
    default system prompt alone, which fine-tunes of Qwen2.5 often edit: 2507 renders non-string content as empty
    text and JSON-text arguments verbatim, Qwen2.5 writes an assistant turn without calls through one branch."""
    if "You are Qwen, created by Alibaba Cloud" in chat_template:
        return "qwen2.5"
    if "tool_call.arguments is string" in chat_template and "message.content is string" in chat_template:
        return "qwen3-instruct-2507"
    return "qwen2.5"


def _qwen_xml_template(chat_template: str) -> str:
    """Qwen3.5 / 3.6 / 3.8 (XML calls) by their flags; Qwen3-Coder's template has no thinking at all."""
    if "<think>" not in chat_template:
        return "qwen3-coder"
    if "reasoning_effort" in chat_template:
        return "qwen3.8"
    if "preserve_thinking" in chat_template:
        return "qwen3.6"
    if "enable_thinking is defined and enable_thinking is true" in chat_template:
        return "qwen3.5-nothink"
    return "qwen3.5"


def _from_name(name_or_path: str) -> str | None:
    for name, pattern in _NAME_PATTERNS:
        if match := pattern.search(name_or_path):
            return _qwen35_by_size(name_or_path, match.end()) if name == "qwen3.5" else name
    return None


def _qwen35_by_size(name_or_path: str, after: int) -> str:
    """Qwen3.5 ships two templates that differ in the thinking default; the checkpoint size after the family name
    (``Qwen3.5-2B``, ``Qwen3.5-35B-A3B``) tells which."""
    sizes = [float(size) for size in _SIZE.findall(name_or_path[after:])]
    if not sizes:
        raise TemplateInstallError(
            f"{name_or_path!r} is a Qwen3.5 model, whose checkpoints up to {QWEN35_NOTHINK_MAX_BILLIONS:g}B ship the "
            "thinking-off template and larger ones the thinking-on one, but the name gives no size; pass "
            "name='qwen3.5' or name='qwen3.5-nothink'")
    return "qwen3.5-nothink" if sizes[0] <= QWEN35_NOTHINK_MAX_BILLIONS else "qwen3.5"


def _from_vocab(vocab: dict[str, int]) -> str | None:
    if "[gMASK]" in vocab and "<|observation|>" in vocab:
        return "glm4.5" if "<arg_key>" in vocab else "glm4"
    if "<|im_start|>" in vocab and "<|im_end|>" in vocab:
        if "<think>" in vocab:
            return "qwen3"
        if "<tool_call>" in vocab:
            return "qwen2.5"
        return "chatml"
    if "<|start_header_id|>" in vocab and "<|eot_id|>" in vocab:
        return "llama3"
    return None


def _text_tokenizer(tokenizer: Any) -> Any:
    """The tokenizer itself, or the ``.tokenizer`` of a multimodal processor."""
    if not hasattr(tokenizer, "get_vocab") and hasattr(tokenizer, "tokenizer"):
        return tokenizer.tokenizer
    return tokenizer


def _vocab(tokenizer: Any) -> dict[str, int]:
    try:
        vocab = _text_tokenizer(tokenizer).get_vocab()
    except (AttributeError, NotImplementedError) as exc:
        raise TemplateInstallError(f"object of type {type(tokenizer).__name__} is not a tokenizer: {exc}") from None
    return vocab if isinstance(vocab, dict) else {}


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(_text_tokenizer(tokenizer).encode(text, add_special_tokens=False))
