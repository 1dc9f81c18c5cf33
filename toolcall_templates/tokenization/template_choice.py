"""Which template tokenizes a tokenizer's rows, and on which path.

* ``template=None``: the shipped template detected for the tokenizer (``install.detect_template_name``), on the fast
  path, when the tokenizer's own template renders like it. The tokenizer's own template, on the general path
  (:mod:`turn_encoder`), when nothing is detected, or when the detected shipped template renders a probe
  conversation differently from the tokenizer's own (a template of another model that shares its tokens or
  fingerprints: Hermes or Qwen3-2507 next to Qwen2.5 / Qwen3, say). An own template that ignores ``tools=`` (GLM-4's
  official one) is no reason to leave the shipped template.
* a shipped name, or a ``ChatTemplate``: that template, on the fast path.
* ``"own"``: the tokenizer's own template on the general path, even where a shipped one matches it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..templates import ChatTemplate, resolve_template
from .own_template import OWN, PROBE_TOOL, PROBE_TOOLS, own_chat_template, probe_conversation, render_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TemplateChoice:
    template: ChatTemplate
    own: bool
    """Every row takes the general path with ``template`` as it is."""
    why: str = ""
    """Why the tokenizer's own template is used (empty for an explicit or detected shipped template)."""


def choose_template(template: "str | ChatTemplate | None", tokenizer: Any,
                    template_kwargs: Mapping[str, Any] | None = None) -> TemplateChoice:
    """The template for ``tokenizer`` and whether it takes the general path (see the module docstring)."""
    if template == OWN:
        return TemplateChoice(own_chat_template(tokenizer), True, "asked for (template='own')")
    if template is not None:
        return TemplateChoice(resolve_for_tokenizer(template, tokenizer), False)
    from ..install import TemplateInstallError

    try:
        name = detect_template(tokenizer)
    except TemplateInstallError as exc:
        if not getattr(tokenizer, "chat_template", None):
            raise
        return TemplateChoice(own_chat_template(tokenizer), True, f"no shipped template recognized ({exc})")
    try:
        spec = resolve_for_tokenizer(name, tokenizer)
    except ValueError as exc:  # detected, but the tokenizer lacks its tokens: not that model's template
        if not getattr(tokenizer, "chat_template", None):
            raise
        return TemplateChoice(own_chat_template(tokenizer), True, f"the detected template does not fit ({exc})")
    difference = _renders_differently(spec, tokenizer, template_kwargs or {})
    if difference:
        logger.info("using the tokenizer's own chat template: %s", difference)
        return TemplateChoice(own_chat_template(tokenizer), True, difference)
    return TemplateChoice(spec, False)


def _renders_differently(spec: ChatTemplate, tokenizer: Any, template_kwargs: Mapping[str, Any]) -> str:
    """Why the tokenizer's own template is not ``spec`` (it renders the probe conversation otherwise); empty when it
    is, when there is none, or when it cannot be used for tool data anyway."""
    try:
        own = own_chat_template(tokenizer)
    except ValueError:
        return ""
    if own.source == spec.source:
        return ""
    kwargs = {**spec.default_kwargs, **template_kwargs}
    own_kwargs = {**dict(getattr(tokenizer, "special_tokens_map", {}) or {}), **kwargs}
    conversation = probe_conversation()
    try:
        own_texts = [render_text(own, conversation[:1], PROBE_TOOLS, True, own_kwargs),
                     render_text(own, conversation, PROBE_TOOLS, False, own_kwargs)]
    except Exception:  # noqa: BLE001 - an own template that fails on tool data is no alternative
        return ""
    if PROBE_TOOL not in own_texts[0]:
        return ""
    try:
        shipped_texts = [render_text(spec, conversation[:1], PROBE_TOOLS, True, kwargs),
                         render_text(spec, conversation, PROBE_TOOLS, False, kwargs)]
    except Exception as exc:  # noqa: BLE001
        return f"the detected template {spec.name!r} fails on a tool-calling probe ({exc})"
    if own_texts != shipped_texts:
        return f"it renders a tool-calling probe differently from the detected shipped template {spec.name!r}"
    return ""


def resolve_for_tokenizer(template: "str | ChatTemplate | None", tokenizer: Any) -> ChatTemplate:
    """The shipped template to use with ``tokenizer``: as given, or detected from it; its special tokens must
    exist."""
    spec = resolve_template(template if template is not None else detect_template(tokenizer))
    added = getattr(tokenizer, "added_tokens_encoder", None) or {}
    unknown = {None, getattr(tokenizer, "unk_token_id", None)}
    missing = [token for token in spec.required_tokens
               if token not in added and tokenizer.convert_tokens_to_ids(token) in unknown]
    if missing:
        raise ValueError(f"template {spec.name!r} needs tokens {missing} that this tokenizer does not have")
    return spec


def detect_template(tokenizer: Any) -> str:
    """Name of the shipped template for ``tokenizer`` (``install.detect_template_name``: a ValueError naming the
    choices when it cannot tell)."""
    from ..install import detect_template_name

    return detect_template_name(tokenizer)
