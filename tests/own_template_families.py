"""The TRL original chat templates that render tools, each with the tokenizer it is tried on.

Where ``../shared`` has the model's own tokenizer (Qwen2.5, Qwen3, Llama 3.1 / 3.2) that is used, with TRL's
original template installed (the same text as the official one). Elsewhere a stand-in: the nearest real tokenizer
with the template's special tokens added (``conftest.stand_in_tokenizer``), its ``eos_token`` set as the real model
sets it. ``stop_tokens`` are the model's ``generation_config.json`` stop tokens where they are published (Qwen
``<|im_end|>`` / ``<|endoftext|>``, Llama ``<|eot_id|>`` / ``<|eom_id|>`` / ``<|end_of_text|>``, GLM-4.5
``<|endoftext|>`` / ``<|user|>`` / ``<|observation|>``, gpt-oss ``<|return|>`` / ``<|call|>`` / ``<|endoftext|>``),
and otherwise the tokens that close the template's own assistant turns (Gemma 4 ``<turn|>`` and
``<|tool_response>``, Muse Glimmer ``<|eot|>``).

The TRL originals that do not render ``tools=`` (cohere, cohere2, deepseek_r1_distill, deepseekv3, gemma, gemma3,
idefics3, llama3, llava_next, phi3, phi3_5, qwen2_5_vl, smolvlm) are refused by the library, which
``test_own_template.py`` checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import trl

from conftest import load_tokenizer, stand_in_tokenizer

TRL_TEMPLATES = Path(trl.__file__).parent / "chat_templates"
QWEN_STOPS = ("<|im_end|>", "<|endoftext|>")
LLAMA_STOPS = ("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>")
DATE = {"date_string": "26 Jul 2024"}


@dataclass(frozen=True)
class Family:
    template: str
    """TRL original template file stem."""
    base: str
    """Tokenizer fixture in ``../shared``."""
    stop_tokens: tuple[str, ...]
    eos: str | None = None
    """``eos_token`` of the real model (stand-ins only)."""
    real: bool = False
    """``base`` is the model's own tokenizer."""
    kwargs: tuple[tuple[str, str], ...] = ()
    """Render arguments."""

    @property
    def template_kwargs(self) -> dict[str, str]:
        return dict(self.kwargs)


def _qwen(template: str, real: bool = False) -> Family:
    return Family(template, "qwen3" if not real else template.replace("qwen2_5", "qwen2.5"), QWEN_STOPS,
                  None if real else "<|im_end|>", real)


FAMILIES: dict[str, Family] = {family.template: family for family in (
    _qwen("qwen2_5", real=True),
    _qwen("qwen3", real=True),
    _qwen("qwen3_instruct_2507"),
    _qwen("qwen3_5_think"),
    _qwen("qwen3_5_nothink"),
    _qwen("qwen3_6"),
    _qwen("qwen3_8"),
    _qwen("qwen3_vl"),
    Family("llama3_1", "llama3.1", LLAMA_STOPS, real=True, kwargs=tuple(DATE.items())),
    Family("llama3_2", "llama3.2", LLAMA_STOPS, real=True, kwargs=tuple(DATE.items())),
    Family("glm4moe", "glm4", ("<|endoftext|>", "<|user|>", "<|observation|>"), "<|endoftext|>"),
    Family("gptoss", "llama3.1", ("<|return|>", "<|call|>", "<|endoftext|>"), "<|return|>"),
    Family("gemma4", "qwen3", ("<turn|>", "<|tool_response>", "<eos>"), "<eos>"),
    Family("gemma4_v2", "qwen3", ("<turn|>", "<|tool_response>", "<eos>"), "<eos>"),
    Family("gemma4_v3", "qwen3", ("<turn|>", "<|tool_response>", "<eos>"), "<eos>"),
    Family("gemma4_v4", "qwen3", ("<turn|>", "<|tool_response>", "<eos>"), "<eos>"),
    Family("gemma4_v5", "qwen3", ("<turn|>", "<|tool_response>", "<eos>"), "<eos>"),
    Family("diffusion_gemma", "qwen3", ("<turn|>", "<|tool_response>", "<eos>"), "<eos>"),
    Family("lfm2", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("lfm2_v2", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("lfm2_2_5", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("lfm2_2_5_v2", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("lfm2_2_5_vl", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("nemotron_3_nano", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("nemotron_3_super", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("nemotron_3_ultra", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("nemotron_3_5_lightning", "qwen3", ("<|im_end|>",), "<|im_end|>"),
    Family("muse_glimmer", "llama3.1", ("<|eot|>",), "<|eot|>"),
)}

NO_TOOLS = ("cohere", "cohere2", "deepseek_r1_distill", "deepseekv3", "gemma", "gemma3", "idefics3", "llama3",
            "llava_next", "phi3", "phi3_5", "qwen2_5_vl", "smolvlm")
"""TRL originals whose output ignores ``tools=``."""

_MARKERS = re.compile(r"<\|[^<>\s'\"]*>|<[^<>\s'\"|]*\|>|</?(?:think|tool_call|tool_response|arg_key|arg_value)>"
                      r"|\[gMASK\]|<sop>")


def template_text(name: str) -> str:
    return (TRL_TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")


def markers(source: str) -> tuple[str, ...]:
    """The special-token strings a template writes (``<|...|>``, ``<|...>``, ``<...|>`` and the XML-ish tags)."""
    return tuple(sorted(set(_MARKERS.findall(source))))


@lru_cache(maxsize=None)
def family_tokenizer(name: str):
    """The tokenizer for TRL original ``name``, with that template installed (a fresh object, cached)."""
    family = FAMILIES[name]
    source = template_text(name)
    if family.real:
        load_tokenizer(family.base)  # skips when absent
        from transformers import AutoTokenizer

        from conftest import SHARED

        tokenizer = AutoTokenizer.from_pretrained(str(SHARED / "fixtures" / "tokenizers" / family.base))
        tokenizer.chat_template = source
        return tokenizer
    tokens = tuple(dict.fromkeys([*markers(source), *family.stop_tokens]))
    return stand_in_tokenizer(family.base, tokens, eos_token=family.eos, chat_template=source)
