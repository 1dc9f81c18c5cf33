"""Parse ReAct-style assistant text into tool calls, observations and answers.

Three keyword sets share one parser:

* ReAct (Qwen ``react_prompt.md``, ms-swift ``react_en``/``react_zh``/``toolbench``, ToolLLaMA, ms_agent):
  ``Thought:`` ``Action:`` ``Action Input:`` ``Observation:`` ``Final Answer:``; the Chinese spellings
  ``思考`` ``行动``/``动作`` ``行动输入``/``动作输入`` ``观察`` ``最终答案`` are accepted too, with ASCII or full-width colons.
  Keywords are found anywhere after a non-word character (ms-swift documents them inline on one line).
* Qwen-Agent function calling: ``✿FUNCTION✿:`` ``✿ARGS✿:`` ``✿RESULT✿:`` ``✿RETURN✿:``.

A ReAct ``Final Answer:`` ends the loop: everything after it is answer text (so "Call to Action:" in an answer is
not a call). A Qwen-Agent ``✿RETURN✿:`` reply may be followed by further calls.

The text is split into rounds; a round is (text before the calls, calls, observations) or (thoughts, final answer).
Consecutive actions before an observation are parallel calls of one assistant turn; observations answer them in
order. Thought text of a call round becomes the turn's content (or ``reasoning_content`` with
``thoughts="reasoning"``); the thought before a final answer becomes the final turn's ``reasoning_content``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from ..arguments import parse_arguments
from ..conversation import ConversationBuilder
from ..errors import InvalidRecord
from ..schema import Tool
from ._literal import try_decode

THOUGHT, ACTION, INPUT, OBSERVATION, FINAL, TEXT = "thought", "action", "input", "observation", "final", "text"


@dataclass(frozen=True)
class KeywordSet:
    """Keyword spellings per part, and whether a keyword must follow a non-word character."""

    name: str
    words: dict[str, tuple[str, ...]]
    word_boundary: bool = True
    final_is_last: bool = True
    pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spelled = sorted(((w, kind) for kind, ws in self.words.items() for w in ws), key=lambda p: -len(p[0]))
        alternatives = "|".join(re.escape(w) for w, _ in spelled)
        prefix = r"(?<!\w)" if self.word_boundary else ""
        object.__setattr__(self, "pattern", re.compile(rf"{prefix}({alternatives})[ \t]*[:：]"))
        object.__setattr__(self, "_kinds", {w: kind for w, kind in spelled})

    def kind_of(self, word: str) -> str:
        return self._kinds[word]  # type: ignore[attr-defined]


REACT = KeywordSet("react", {
    THOUGHT: ("Thought", "思考"),
    ACTION: ("Action", "行动", "动作"),
    INPUT: ("Action Input", "Action input", "行动输入", "动作输入"),
    OBSERVATION: ("Observation", "观察", "观测"),
    FINAL: ("Final Answer", "Final answer", "最终答案", "最终回答"),
})
QWEN_AGENT = KeywordSet("qwen_agent", {
    ACTION: ("✿FUNCTION✿",),
    INPUT: ("✿ARGS✿",),
    OBSERVATION: ("✿RESULT✿",),
    FINAL: ("✿RETURN✿",),
}, word_boundary=False, final_is_last=False)

_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```$", re.DOTALL)


@dataclass
class Round:
    """One step of the loop: text, then calls and their observations, or a final answer."""

    texts: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    final: str | None = None

    @property
    def closed(self) -> bool:
        return bool(self.results) or self.final is not None


def has_call(text: str, keywords: KeywordSet = REACT) -> bool:
    """Whether the text holds an action followed by its input (a ReAct tool call)."""
    kinds = [keywords.kind_of(m.group(1)) for m in keywords.pattern.finditer(text)]
    return any(a == ACTION and b == INPUT for a, b in itertools.pairwise(kinds))


def segments(text: str, keywords: KeywordSet = REACT) -> list[tuple[str, str]]:
    """``(kind, value)`` pieces in order; text before the first keyword has kind ``text``."""
    matches = list(keywords.pattern.finditer(text))
    out: list[tuple[str, str]] = []
    head = text[: matches[0].start()] if matches else text
    if head.strip():
        out.append((TEXT, head))
    for i, match in enumerate(matches):
        kind = keywords.kind_of(match.group(1))
        last = i + 1 == len(matches) or (kind == FINAL and keywords.final_is_last)
        out.append((kind, text[match.end(): len(text) if last else matches[i + 1].start()]))
        if last:
            break
    return out


def parse_rounds(text: str, keywords: KeywordSet = REACT) -> list[Round]:
    """Group the pieces of one assistant text into rounds (see module doc)."""
    parts = segments(text, keywords)
    if parts and parts[-1][0] == OBSERVATION and not parts[-1][1].strip():
        parts.pop()  # a trailing "Observation:" placeholder: the result comes in the next tool turn
    rounds: list[Round] = []
    current = Round()
    action: str | None = None

    def start_new_round_if_closed() -> None:
        nonlocal current
        if current.closed:
            rounds.append(current)
            current = Round()

    def flush_action() -> None:
        nonlocal action
        if action is not None:
            current.calls.append((action, ""))
            action = None

    for kind, raw in parts:
        value = raw.strip()
        if kind in (TEXT, THOUGHT):
            flush_action()
            start_new_round_if_closed()
            if value:
                current.texts.append(value)
        elif kind == ACTION:
            flush_action()
            start_new_round_if_closed()
            action = value
        elif kind == INPUT:
            name = action if action is not None else (current.calls[-1][0] if current.calls else None)
            if name is None:
                raise InvalidRecord(f"'{_spelling(keywords, INPUT)}' without a preceding action")
            current.calls.append((name, value))
            action = None
        elif kind == OBSERVATION:
            flush_action()
            if not current.calls:
                raise InvalidRecord(f"'{_spelling(keywords, OBSERVATION)}' without a preceding action")
            current.results.append(value)
        else:
            flush_action()
            if current.calls and not current.results:
                raise InvalidRecord("a final answer follows a tool call that has no observation")
            start_new_round_if_closed()
            current.final = value
    flush_action()
    if current.texts or current.calls or current.final is not None:
        rounds.append(current)
    return rounds


def feed_text(
    builder: ConversationBuilder, text: str, *, keywords: KeywordSet = REACT, thoughts: str = "content",
    reasoning: str | None = None,
) -> int:
    """Add one assistant text to the builder; returns how many observations were found inline."""
    inline = 0
    rounds = parse_rounds(text, keywords)
    if not rounds and reasoning:
        builder.assistant("", reasoning)
    for index, step in enumerate(rounds):
        text_part = "\n".join(step.texts)
        lead_reasoning = reasoning if index == 0 else None
        if step.calls:
            _add_call_round(builder, step, text_part, thoughts, lead_reasoning)
            inline += len(step.results)
        elif step.final is not None:
            merged = "\n".join(p for p in (lead_reasoning, text_part) if p)
            builder.assistant(step.final, merged or None)
        else:
            builder.assistant(text_part, lead_reasoning)
    return inline


def _add_call_round(builder: ConversationBuilder, step: Round, text: str, thoughts: str, reasoning: str | None) -> None:
    if thoughts == "reasoning":
        reasoning = "\n".join(p for p in (reasoning, text) if p) or None
        text = ""
    if text or reasoning:
        builder.assistant(text, reasoning)
    for name, raw in step.calls:
        builder.call(_action_name(name), call_arguments(builder, name, raw))
    for result in step.results:
        builder.result(result)


def observations(text: str, keywords: KeywordSet = REACT) -> list[str]:
    """The results held by a tool turn: split on observation keywords when it starts with one."""
    parts = segments(text, keywords)
    if parts and parts[0][0] == OBSERVATION and all(kind == OBSERVATION for kind, _ in parts):
        return [value.strip() for _, value in parts]
    return [text.strip()]


def call_arguments(builder: ConversationBuilder, name: str, raw: str) -> Any:
    """The arguments of an action input: JSON / Python literal object, repaired where that is unambiguous.

    Repairs (recorded in ``meta.repairs``): a code fence is removed; text after the closing brace is dropped; a
    non-object input is assigned to the only parameter of a declared one-parameter tool.
    """
    text = raw.strip()
    fence = _FENCE.match(text)
    if fence:
        text = fence.group(1).strip()
    if not text:
        return ""
    name = _action_name(name)
    try:
        arguments, repair = parse_arguments(text)
    except InvalidRecord:
        pass
    else:
        if repair:
            builder.repairs.append(f"{name}: {repair}")
        return arguments
    if text.startswith("{") and "}" in text:
        trimmed = text[: text.rfind("}") + 1]
        value = try_decode(trimmed)
        if isinstance(value, dict):
            builder.repairs.append(f"{name}: trailing_text_dropped")
            return value
    only = _single_parameter(builder.tools, name)
    if only is not None:
        value = try_decode(text)
        builder.repairs.append(f"{name}: plain_input_to_{only}")
        return {only: value if value is not None and not isinstance(value, dict) else text}
    raise InvalidRecord(f"input of action {name!r} is not a JSON object: {text[:120]!r}")


def _single_parameter(tools: list[Tool], name: str) -> str | None:
    for tool in tools:
        if tool["function"]["name"] == name:
            properties = tool["function"]["parameters"].get("properties") or {}
            return next(iter(properties)) if len(properties) == 1 else None
    return None


def _action_name(raw: str) -> str:
    lines = [line.strip() for line in raw.strip().splitlines() if line.strip()]
    if not lines:
        raise InvalidRecord("an action has no tool name")
    if len(lines) > 1:
        raise InvalidRecord(f"action name spans several lines: {raw.strip()[:80]!r}")
    return lines[0]


def _spelling(keywords: KeywordSet, kind: str) -> str:
    return keywords.words[kind][0]
