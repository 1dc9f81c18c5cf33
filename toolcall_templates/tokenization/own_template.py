"""A chat template used as it is: the model's own template, for templates this package does not ship.

Rendering is ``apply_chat_template``'s: transformers' sandboxed Jinja environment (the template is untrusted text;
a shipped template renders in the plain environment proven identical to it), with the tokenizer's special tokens
(``bos_token``, ``eos_token``, ...) and the caller's ``template_kwargs`` as render arguments, and the template chosen
as ``get_chat_template`` chooses it (a ``tool_use`` template for rows with tools where the tokenizer has one).

Probes rendered once, when the template is taken into use, establish what the per-conversation code relies on:

* **tools**: the template renders ``tools=`` (a template that ignores them cannot be used for tool data);
* **arguments**: tool-call ``arguments`` go in as mappings, or as JSON text when the template fails on a mapping or
  prints its Python ``repr`` (transformers documents both forms);
* **stop tokens**: the given ones, or the tokenizer's (:mod:`stop_tokens`) plus the special token that closes an
  assistant turn in the template's own render (GLM style: the next message's header). A template whose turns end in
  none of them is refused with a message asking for ``stop_tokens=``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from ..render_environment import is_shipped_source
from ..templates import ChatTemplate, JsonRenderer, alias_reasoning, is_plain_json
from .stop_tokens import checked_stop_tokens, configured_stop_tokens, special_token_strings

OWN = "own"
"""``template=`` value that asks for the tokenizer's own chat template on the general path, even when it is
recognized as a shipped one."""

PROBE_TOOL = "probe_word_lookup"
PROBE_TOOLS = [{"type": "function", "function": {
    "name": PROBE_TOOL, "description": "Look a word up in the dictionary.",
    "parameters": {"type": "object", "properties": {"word": {"type": "string", "description": "The word."}},
                   "required": ["word"]}}}]
PROBE_ARGUMENTS = {"word": "kettle"}


class TemplateRefused(ValueError):
    """The template cannot give exact tool-calling labels (it ignores tools, or no stop token ends its turns)."""


def probe_conversation(arguments: Any = PROBE_ARGUMENTS) -> list[dict[str, Any]]:
    """A user question, a tool call, its result and an answer: a conversation every tool-calling template renders."""
    return [
        {"role": "user", "content": "What is a kettle?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_probe_0", "type": "function", "function": {"name": PROBE_TOOL, "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": "call_probe_0", "name": PROBE_TOOL, "content": "A pot for boiling water."},
        {"role": "assistant", "content": "It is a pot for boiling water."},
    ]


def own_chat_template(tokenizer: Any) -> ChatTemplate:
    """The tokenizer's own chat template (its ``tool_use`` one when it has several) as a ``ChatTemplate``."""
    source = _source(tokenizer, PROBE_TOOLS)
    if source is None:
        raise ValueError(f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template")
    return ChatTemplate(name=OWN, family=OWN, source=source,
                        description="the tokenizer's own chat template, used as it is")


def _source(tokenizer: Any, tools: Any) -> str | None:
    if not getattr(tokenizer, "chat_template", None):
        return None
    try:
        return tokenizer.get_chat_template(None, tools)
    except ValueError:
        return None


class OwnTemplate:
    """Renders prefixes of conversations with one template as it is, and knows its stop tokens."""

    def __init__(self, tokenizer: Any, spec: ChatTemplate | None = None, *,
                 template_kwargs: Mapping[str, Any] | None = None, stop_tokens: Sequence[str] | None = None):
        self.spec = spec or own_chat_template(tokenizer)
        plain_source = _source(tokenizer, None) if spec is None else None
        self.kwargs = {**dict(getattr(tokenizer, "special_tokens_map", {}) or {}), **self.spec.default_kwargs,
                       **dict(template_kwargs or {})}
        self._specs = {True: self.spec, False: self._variant(plain_source)}
        self._renderers: dict[tuple[bool, bool], Callable[..., str]] = {}
        self.arguments_as_text = self._probe_arguments()
        probe = self._probe_turns()
        probe_turns = list(probe.values())
        self.end_of_turn_tokens = self._end_of_turn_tokens(probe_turns, special_token_strings(tokenizer))
        if stop_tokens is not None:
            self.stop_tokens = checked_stop_tokens(tokenizer, stop_tokens)
        else:
            self.stop_tokens = tuple(dict.fromkeys([*configured_stop_tokens(tokenizer), *self.end_of_turn_tokens]))
        self.stop_pattern = re.compile("|".join(map(re.escape, sorted(self.stop_tokens, key=len, reverse=True))))
        self._check_probe_turns_stop(probe_turns)
        self.final_headers = {calls: following[:stop.end()] for calls, (generated, following) in probe.items()
                              if not self.stop_pattern.search(generated) and (stop := self.stop_at_end(following))}
        """GLM style: what follows a final turn (with calls: True) through the stop token that the next message's
        header starts with (the next message is a tool result after calls, a user message otherwise)."""

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for ``datasets.map`` worker processes: renderers are rebuilt there on first use."""
        return {**self.__dict__, "_renderers": {}}

    @property
    def sources(self) -> tuple[str, ...]:
        """The template texts rendered: for rows with tools, and (when it differs) for rows without."""
        return tuple(dict.fromkeys(spec.source for spec in self._specs.values()))

    # -- rendering ---------------------------------------------------------------------------------------------
    def prepared(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Messages as this template takes them: arguments as JSON text where the probe found it needs that."""
        if not self.arguments_as_text or not any(m.get("tool_calls") for m in messages):
            return messages
        return [_with_text_arguments(m) if m.get("tool_calls") else m for m in messages]

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
               add_generation_prompt: bool, plain: bool | None = None) -> str:
        """The template's text for ``messages`` (already ``prepared``), as ``apply_chat_template`` renders it.
        ``plain``: whether messages and tools are plain JSON values (checked when None)."""
        spec = self._specs[bool(tools)]
        if plain if plain is not None else is_plain_json(messages) and is_plain_json(tools):
            key = (bool(tools), add_generation_prompt)
            renderer = self._renderers.get(key)
            if renderer is None:
                renderer = self._renderers[key] = self._plain_renderer(spec, add_generation_prompt)
            return renderer(messages, tools)
        return render_text(spec, messages, tools, add_generation_prompt, self.kwargs)

    def _plain_renderer(self, spec: ChatTemplate, add_generation_prompt: bool) -> Callable[..., str]:
        """``(messages, tools) -> text`` for plain JSON input. A shipped template renders outside the sandbox (proven
        identical); any other text in transformers' compiled sandboxed template, called as ``render_jinja_template``
        calls it when no generation spans are asked for (plain JSON needs none of its input conversion)."""
        if is_shipped_source(spec.source):
            renderer = JsonRenderer(spec, add_generation_prompt=add_generation_prompt, **self.kwargs)
            return lambda messages, tools: renderer(messages, tools)[0]
        from transformers.utils.chat_template_utils import _compile_jinja_template

        compiled, kwargs = _compile_jinja_template(spec.source), {**spec.default_kwargs, **self.kwargs}
        return lambda messages, tools: compiled.render(messages=alias_reasoning(messages), tools=tools,
                                                       documents=None, add_generation_prompt=add_generation_prompt,
                                                       **kwargs)

    def stop_at_end(self, text: str) -> re.Match[str] | None:
        """The stop token that ``text`` (what follows a turn) starts with, after optional whitespace."""
        stripped = len(text) - len(text.lstrip())
        match = self.stop_pattern.match(text, stripped)
        return match

    def _variant(self, source: str | None) -> ChatTemplate:
        if source is None or source == self.spec.source:
            return self.spec
        return ChatTemplate(name=self.spec.name, family=self.spec.family, source=source,
                            default_kwargs=self.spec.default_kwargs, description=self.spec.description)

    # -- probes ------------------------------------------------------------------------------------------------
    def _probe_arguments(self) -> bool:
        """Whether tool-call arguments must be JSON text (the template fails on, or prints the repr of, a mapping;
        never for a shipped template, whose spelling is by design); refuses a template that ignores ``tools=`` or
        renders no tool call at all."""
        question = probe_conversation()[:1]
        try:
            with_tools = self.render(question, PROBE_TOOLS, True)
        except Exception as exc:  # noqa: BLE001 - the template's own error, reported
            raise TemplateRefused(f"the chat template fails on a plain tool-calling conversation: {describe(exc)}")
        if PROBE_TOOL not in with_tools:
            raise TemplateRefused(
                "the chat template does not render tools= (a tool list passed to it does not appear in the text), "
                "so it cannot be used for tool-calling data; pass a template that renders tools")
        failures = []
        for as_text in (False, True):
            arguments = json.dumps(PROBE_ARGUMENTS) if as_text else PROBE_ARGUMENTS
            try:
                text = self.render(probe_conversation(arguments)[:2], PROBE_TOOLS, False)
            except Exception as exc:  # noqa: BLE001
                failures.append(f"as {'JSON text' if as_text else 'a mapping'}: {describe(exc)}")
                continue
            if repr(PROBE_ARGUMENTS) in text and not is_shipped_source(self.spec.source):
                failures.append(f"as a mapping: it prints the Python repr {PROBE_ARGUMENTS!r}")
            elif text.count(PROBE_TOOL) > with_tools.count(PROBE_TOOL) or is_shipped_source(self.spec.source):
                return as_text
            else:
                failures.append(f"as {'JSON text' if as_text else 'a mapping'}: the call does not appear in the text")
        raise TemplateRefused("the chat template cannot render a tool call with arguments as a mapping or as JSON "
                              "text: " + "; ".join(failures))

    def _probe_turns(self) -> dict[bool, tuple[str, str]]:
        """``{has calls: (generated text, what follows the turn)}`` of the probe's call turn and answer turn, each
        rendered as the last message (as at inference), without reasoning or else with it (a template whose
        generation prompt opens a think block renders a turn without reasoning otherwise); turns whose prompt is
        not a prefix of their render are left out."""
        for reasoning in (None, "Looking it up."):
            conversation = self.prepared(probe_conversation())
            if reasoning:
                conversation = [{**m, "reasoning_content": reasoning} if m["role"] == "assistant" else m
                                for m in conversation]
            after = {1: conversation[2], 3: {"role": "user", "content": "Thanks."}}
            turns = {}
            for index in (1, 3):
                try:
                    prompt = self.render(conversation[:index], PROBE_TOOLS, True)
                    full = self.render(conversation[:index + 1], PROBE_TOOLS, False)
                    longer = self.render(conversation[:index + 1] + [after[index]], PROBE_TOOLS, False)
                except Exception:  # noqa: BLE001 - a template may refuse a shape; the others decide
                    continue
                if full.startswith(prompt):
                    turns[index == 1] = (full[len(prompt):], longer[len(full):] if longer.startswith(full) else "")
            if turns:
                return turns
        return {}

    def _end_of_turn_tokens(self, turns: list[tuple[str, str]], specials: set[str]) -> tuple[str, ...]:
        """The special token that closes each probe turn, for tokenizers saved without their stop tokens:

        1. the turn's last token (trailing whitespace aside) when it also closes a user message (``<|im_end|>``,
           ``<|eot_id|>``, ``<turn|>``: a message terminator);
        2. else the first token of the next message's header, unless the generation prompt starts with it too (GLM:
           ``<|observation|>`` or ``<|user|>`` are generated, ChatML's ``<|im_start|>`` is not);
        3. else the turn's last token (gpt-oss ``<|call|>``).
        """
        ordered = sorted(specials, key=len, reverse=True)

        def last(text: str) -> str | None:
            end = text.rstrip()
            return next((token for token in ordered if end.endswith(token)), None)

        def first(text: str) -> str | None:
            head = text.lstrip()
            return next((token for token in ordered if head.startswith(token)), None)

        question = probe_conversation()[:1]
        try:
            asked = self.render(question, PROBE_TOOLS, False)
            prompted = self.render(question, PROBE_TOOLS, True)
        except Exception:  # noqa: BLE001 - the tools probe rendered the same prompt already
            asked = prompted = ""
        terminator = last(asked)
        header = first(prompted[len(asked):]) if prompted.startswith(asked) else None
        found: list[str] = []
        for generated, following in turns:
            closing, opening = last(generated), first(following)
            if closing is not None and closing == terminator:
                found.append(closing)
            elif opening is not None and opening != header:
                found.append(opening)
            elif closing is not None:
                found.append(closing)
        return tuple(dict.fromkeys(found))

    def _check_probe_turns_stop(self, turns: list[tuple[str, str]]) -> None:
        if not turns:
            raise TemplateRefused("the chat template's generation prompt is not a prefix of any rendered assistant "
                                  "turn of a plain tool-calling conversation, with or without reasoning_content; "
                                  "check its render arguments (template_kwargs, e.g. enable_thinking)")
        for generated, following in turns:
            if not self.stop_pattern.search(generated) and not self.stop_at_end(following):
                raise TemplateRefused(
                    f"the chat template's assistant turns end in none of the stop tokens {list(self.stop_tokens)} "
                    f"(a turn renders as {generated[-80:]!r}); pass the model's stop tokens as stop_tokens=[...]")


def render_text(spec: ChatTemplate, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                add_generation_prompt: bool, kwargs: Mapping[str, Any]) -> str:
    """``apply_chat_template(..., tokenize=False)``'s text for any input (the sandbox, transformers' own input
    conversion); ``spec.default_kwargs`` apply unless ``kwargs`` override them."""
    from transformers.utils.chat_template_utils import render_jinja_template

    texts, _ = render_jinja_template(conversations=[messages], tools=tools, chat_template=spec.source,
                                     add_generation_prompt=add_generation_prompt,
                                     **{**spec.default_kwargs, **kwargs})
    return texts[0]


def _with_text_arguments(message: dict[str, Any]) -> dict[str, Any]:
    """A copy of an assistant message whose call arguments that are mappings are JSON text
    (``json.dumps(arguments, ensure_ascii=False)``)."""
    message = copy.copy(message)
    calls = []
    for call in message["tool_calls"]:
        call = copy.deepcopy(call)
        function = call.get("function", call) if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), (dict, list)):
            function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
        calls.append(call)
    message["tool_calls"] = calls
    return message


def describe(exc: BaseException) -> str:
    """``"ErrorType: first line of the message"`` (at most 300 characters), for reports."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]
