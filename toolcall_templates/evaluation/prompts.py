"""The template side of an evaluation: each turn's inference prompt, the stop tokens, and the parser of the output.

A turn's prompt is what the model is given at inference: ``render(messages[:k], tools, add_generation_prompt=True)``
with the chat template the model was trained with, which is

* a shipped template (``jinja/``; named, or detected from the tokenizer as ``tokenize_dataset`` detects it): its
  sidecar's stop tokens, its own parser family;
* the tokenizer's own chat template used as it is (``template="own"``, or a tokenizer whose template is not a shipped
  one, as in ``tokenize_dataset``): the stop tokens ``tokenize_dataset`` trains (the tokenizer's eos tokens, its
  generation config's, the template's end-of-turn token; or ``stop_tokens=``), and the shipped parser that reads back
  a tool call this template renders (a probe call is rendered and each parser family tried on it), or ``parser=``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..parsing import ParsedTurn, ToolCallParseError, parse_assistant
from ..templates import ChatTemplate, get_template, list_templates, render_plain


@dataclass
class EvalTemplate:
    """Renders inference prompts and reads generated turns back, for one chat template."""

    name: str
    """The shipped template's name, or ``"own"`` for a tokenizer's own chat template."""
    stop_tokens: tuple[str, ...]
    """What ends a generated turn (sent to the model as its stop tokens)."""
    parser: ChatTemplate
    """The shipped template whose parser family reads the output."""
    _render: Any
    """``(messages, tools) -> prompt text``."""

    def prompt(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        """The inference prompt of the turn that follows ``messages``."""
        return self._render(messages, tools)

    def parse(self, text: str, tools: Sequence[Any] | None) -> tuple[ParsedTurn, str | None]:
        """``(turn read leniently, as serving engines read it; why strict parsing rejects the text, or None)``."""
        turn = parse_assistant(text, self.parser, strict=False, tools=tools)
        try:
            parse_assistant(text, self.parser, strict=True, tools=tools)
        except ToolCallParseError as exc:
            return turn, str(exc)
        return turn, None


def eval_template(template: "str | ChatTemplate | None" = None, tokenizer: Any = None, *,
                  template_kwargs: Mapping[str, Any] | None = None, stop_tokens: Sequence[str] | None = None,
                  parser: str | None = None) -> EvalTemplate:
    """The :class:`EvalTemplate` for a template name (``None``: detected from ``tokenizer``; ``"own"``: the
    tokenizer's own chat template) and render arguments. Without a tokenizer, ``template`` must be a shipped one."""
    kwargs = dict(template_kwargs or {})
    if tokenizer is None:
        if template is None or template == "own":
            raise ValueError("without a tokenizer the template must be a shipped one; choose one of "
                             f"{', '.join(list_templates())}")
        return _shipped(get_template(template) if isinstance(template, str) else template, kwargs, stop_tokens,
                        parser)
    from ..tokenization.template_choice import choose_template

    choice = choose_template(template, tokenizer, kwargs)
    if not choice.own:
        return _shipped(choice.template, kwargs, stop_tokens, parser)
    return _own(tokenizer, kwargs, stop_tokens, parser)


def _shipped(spec: ChatTemplate, kwargs: dict[str, Any], stop_tokens: Sequence[str] | None,
             parser: str | None) -> EvalTemplate:
    def prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        return render_plain(spec, messages, tools, add_generation_prompt=True, **kwargs)[0]

    return EvalTemplate(name=spec.name, stop_tokens=tuple(stop_tokens or spec.stop_tokens),
                        parser=get_template(parser) if parser else spec, _render=prompt)


def _own(tokenizer: Any, kwargs: dict[str, Any], stop_tokens: Sequence[str] | None,
         parser: str | None) -> EvalTemplate:
    from ..tokenization.own_template import OwnTemplate

    own = OwnTemplate(tokenizer, template_kwargs=kwargs, stop_tokens=stop_tokens)

    def prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        return own.render(own.prepared(messages), tools, True)

    return EvalTemplate(name="own", stop_tokens=own.stop_tokens,
                        parser=get_template(parser) if parser else parser_for(own), _render=prompt)


def parser_for(own: Any) -> ChatTemplate:
    """The shipped template whose parser reads back, in strict mode, exactly the probe tool call that the template
    ``own`` (an ``OwnTemplate``) renders; a ValueError asking for ``parser=`` when none does."""
    from ..tokenization.own_template import PROBE_ARGUMENTS, PROBE_TOOL, PROBE_TOOLS, probe_conversation

    generated = None
    for reasoning in (None, "Looking it up."):  # a generation prompt may open a think block only a turn with one has
        conversation = own.prepared(probe_conversation())
        if reasoning:
            conversation[1] = {**conversation[1], "reasoning_content": reasoning}
        prompt = own.render(conversation[:1], PROBE_TOOLS, True)
        turn = own.render(conversation[:2], PROBE_TOOLS, False)
        if turn.startswith(prompt):
            generated = turn[len(prompt):]
            break
    if generated is None:
        raise ValueError("the chat template's generation prompt is not where its rendered tool-call turn starts, "
                         "so no parser can be chosen for it; pass parser= (--parser)")
    for spec in _one_template_per_family().values():
        try:
            parsed = parse_assistant(generated, spec, strict=True, tools=PROBE_TOOLS)
        except ToolCallParseError:
            continue
        calls = parsed["tool_calls"]
        if len(calls) == 1 and calls[0]["function"] == {"name": PROBE_TOOL, "arguments": PROBE_ARGUMENTS}:
            return spec
    raise ValueError(f"no shipped parser reads the tool call this chat template renders ({generated.strip()[:120]!r}); "
                     f"pass parser= (--parser) naming a shipped template whose calls look alike: "
                     f"{', '.join(list_templates())}")


def _one_template_per_family() -> dict[str, ChatTemplate]:
    """The first shipped template (by name) of each parser family."""
    families: dict[str, ChatTemplate] = {}
    for name in list_templates():
        spec = get_template(name)
        families.setdefault(spec.family, spec)
    return families
