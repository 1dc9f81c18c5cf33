"""The shipped chat templates: lookup, rendering with generation spans, installation on a tokenizer.

The ``jinja/*.jinja`` files are the single source of truth for rendering. A sidecar ``jinja/<name>.json`` holds only
facts about each file (family, aliases, the special tokens it needs, its stop tokens, default render arguments); a
sidecar may name another template's ``"file"`` to publish a variant that differs only in its default arguments.
``render`` goes through transformers' own sandboxed Jinja environment, so output is exactly what
``tokenizer.apply_chat_template`` gives for the same template; ``render_plain`` (tokenization) renders the shipped
files outside the sandbox, with output proven identical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from .render_environment import compile_shipped, is_shipped_source, render_compiled
from .resources import resource_path


@dataclass(frozen=True)
class ChatTemplate:
    """A shipped template and the facts the tokenizer-side code needs about it."""

    name: str
    """Canonical name, e.g. ``"qwen2.5"``."""
    family: str
    """``"glm4"``, ``"qwen"``, ``"llama3"`` or ``"chatml"``: the parser and stop-token rules that apply."""
    source: str
    """The Jinja text, with ``{% generation %}`` markers."""
    aliases: tuple[str, ...] = ()
    required_tokens: tuple[str, ...] = ()
    """Special tokens the tokenizer must know (checked by ``apply_tool_template``)."""
    stop_tokens: tuple[str, ...] = ()
    """Tokens that end an assistant turn at inference."""
    default_kwargs: dict[str, Any] = field(default_factory=dict)
    """Render arguments applied unless the caller overrides them (e.g. Llama's ``date_string``)."""
    description: str = ""
    stop_token_kwarg: str | None = None
    """Render variable that appends the stop token after a final assistant turn (GLM-4: the next role token is
    the stop token, and the official render has none after the last turn)."""
    rewrites_history: str | None = None
    """What the template renders differently in history than at inference (e.g. Qwen3 drops earlier turns'
    reasoning), when it does: tokenization then checks the conversations where that can matter turn by turn."""


@lru_cache(maxsize=1)
def _manifest() -> dict[str, dict[str, Any]]:
    """Facts of every shipped template: ``jinja/<name>.json`` next to ``jinja/<name>.jinja``."""
    manifest: dict[str, dict[str, Any]] = {}
    for facts_path in sorted(resource_path("jinja").glob("*.json")):
        facts = json.loads(facts_path.read_text(encoding="utf-8"))
        jinja_name = facts.get("file", facts_path.with_suffix(".jinja").name)
        if (facts_path.parent / jinja_name).exists():
            manifest[facts_path.stem] = {**facts, "file": jinja_name}
    return manifest


def list_templates() -> list[str]:
    """Canonical names of all shipped templates."""
    return sorted(_manifest())


def _aliases() -> dict[str, str]:
    table = {name: name for name in _manifest()}
    for name, facts in _manifest().items():
        for alias in facts.get("aliases", []):
            table[alias] = name
    return table


@lru_cache(maxsize=None)
def get_template(name: str) -> ChatTemplate:
    """The shipped template called ``name`` (or one of its aliases)."""
    canonical = _aliases().get(name)
    if canonical is None:
        raise ValueError(f"unknown template {name!r}; available: {', '.join(list_templates())}")
    facts = _manifest()[canonical]
    source = (resource_path("jinja") / facts["file"]).read_text(encoding="utf-8")
    return ChatTemplate(
        name=canonical,
        family=facts["family"],
        source=source,
        aliases=tuple(facts.get("aliases", [])),
        required_tokens=tuple(facts.get("required_tokens", [])),
        stop_tokens=tuple(facts.get("stop_tokens", [])),
        default_kwargs=dict(facts.get("default_kwargs", {})),
        description=facts.get("description", ""),
        stop_token_kwarg=facts.get("stop_token_kwarg"),
        rewrites_history=facts.get("rewrites_history"),
    )


def resolve_template(template: "str | ChatTemplate") -> ChatTemplate:
    """Accept a name or a ChatTemplate."""
    return template if isinstance(template, ChatTemplate) else get_template(template)


def render(
    template: "str | ChatTemplate",
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = False,
    **kwargs: Any,
) -> tuple[str, list[tuple[int, int]]]:
    """Render one conversation; return the text and the character spans of its ``{% generation %}`` blocks."""
    from transformers.utils.chat_template_utils import render_jinja_template

    spec = resolve_template(template)
    texts, spans = render_jinja_template(
        conversations=[messages],
        tools=tools,
        chat_template=spec.source,
        return_assistant_tokens_mask=True,
        add_generation_prompt=add_generation_prompt,
        **{**spec.default_kwargs, **kwargs},
    )
    return texts[0], [tuple(span) for span in spans[0]]


_PLAIN_SCALARS = (str, int, float, bool, type(None))


def is_plain_json(value: Any) -> bool:
    """Whether a value is made only of JSON types (exact dict/list/str/int/float/bool/None, no subclasses)."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if kind is dict:
        return all(type(key) is str and is_plain_json(item) for key, item in value.items())
    if kind is list:
        return all(is_plain_json(item) for item in value)
    return False


def render_plain(
    template: "str | ChatTemplate",
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = False,
    **kwargs: Any,
) -> tuple[str, list[tuple[int, int]]]:
    """``render``, faster for inputs that are plain JSON (see :class:`JsonRenderer`); other input goes through
    ``render``."""
    if not (is_plain_json(messages) and is_plain_json(tools) and is_plain_json(kwargs)):
        return render(template, messages, tools, add_generation_prompt=add_generation_prompt, **kwargs)
    return JsonRenderer(template, add_generation_prompt=add_generation_prompt, **kwargs)(messages, tools)


class JsonRenderer:
    """``(messages, tools) -> (text, generation spans)`` with fixed render arguments, for conversations that are plain
    JSON (``is_plain_json``; e.g. rows decoded from the dataset): the tokenization hot path. Picklable (it is sent
    to ``datasets.map`` worker processes) and thread-safe.

    transformers' ``render_jinja_template`` rebuilds every input from plain types before rendering, to keep rich
    objects (arrays, images, models) out of the sandbox; plain JSON needs no rebuilding. A shipped template renders
    outside the sandbox (:mod:`render_environment`, proven byte-identical), any other template text in transformers'
    sandbox. Reasoning fields are aliased as transformers aliases them.
    """

    def __init__(self, template: "str | ChatTemplate", *, add_generation_prompt: bool = False, **kwargs: Any):
        self.template = resolve_template(template)
        self.add_generation_prompt = add_generation_prompt
        self.arguments = {**self.template.default_kwargs, **kwargs}
        self._render = self._renderer()

    def __call__(self, messages: list[dict[str, Any]],
                 tools: list[dict[str, Any]] | None) -> tuple[str, list[tuple[int, int]]]:
        return self._render(alias_reasoning(messages), tools)

    def _renderer(self) -> Callable[..., tuple[str, list[tuple[int, int]]]]:
        source, add_generation_prompt, arguments = self.template.source, self.add_generation_prompt, self.arguments
        if is_shipped_source(source):
            compiled = compile_shipped(source)
            return lambda messages, tools: render_compiled(compiled, messages, tools, add_generation_prompt, arguments)
        from transformers.utils.chat_template_utils import _compile_jinja_template, _render_with_assistant_indices

        sandboxed = _compile_jinja_template(source)

        def render_sandboxed(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None):
            text, spans = _render_with_assistant_indices(
                sandboxed, messages, tools, None, add_generation_prompt, **arguments)
            return text, [tuple(span) for span in spans]

        return render_sandboxed

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_render"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._render = self._renderer()


def alias_reasoning(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """transformers' aliasing of a message's reasoning under each of its names (``reasoning_content``, ``thinking``,
    ``reasoning``), applied only where a message has one, as ``render_jinja_template`` applies it."""
    if not any(key in message for message in messages for key in _REASONING_KEYS):
        return messages
    return _reasoning_aliaser()(messages)


_REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")


@lru_cache(maxsize=1)
def _reasoning_aliaser() -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    from transformers.utils import chat_template_utils

    return getattr(chat_template_utils, "_alias_reasoning_fields", list)
