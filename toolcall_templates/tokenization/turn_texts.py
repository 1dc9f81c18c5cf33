"""Each assistant turn's inference prompt and generated text, from a chat template as it is.

For the assistant message at index ``i``, the model at inference is given ``render(messages[:i],
add_generation_prompt=True)`` (the *prompt*) and generates the rest of ``render(messages[:i + 1])`` through the first
stop token, and nothing after it (the *generated text*). When that rest holds no stop token and the next message's
header starts with one (GLM style: the next role token is the stop token), that token is generated too; for the final
message the header comes from rendering a following message (a tool result after a call, else a user message).

A turn is left out, with its reason, when the template fails on its prefix (``template_error``), its prompt is not
where its render starts (``prompt_mismatch``: e.g. a prompt that opens a ``<think>`` block the rendered turn does not
have), no stop token ends it (``no_stop_token``), or the render lacks its content or one of its calls
(``turn_not_rendered``: the template drops them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..templates import is_plain_json
from .own_template import OwnTemplate, describe

_ANCHOR_CHARS = 64
"""Characters of a turn's end used to find it again in a render that rewrote its beginning."""


@dataclass
class Turn:
    """One assistant message: where it is, what the model is given, what it generates."""

    index: int
    """Position of the assistant message in the conversation."""
    prompt: str
    generated: str


@dataclass
class ConversationTexts:
    turns: list[Turn]
    """The turns to train, in order (those left out are in ``left_out``)."""
    left_out: list[tuple[str, str]] = field(default_factory=list)
    """``(reason, "assistant message i: detail")`` per turn that cannot be expressed."""
    tail: str = ""
    """What the whole conversation's render has after the last turn's generated text (untrained), when it renders
    that turn as the turn's own render does."""
    reasoning_not_rendered: int = 0
    """Turns whose ``reasoning_content`` the template does not render (kept, counted)."""


class TurnError(Exception):
    """The conversation as a whole cannot be used; ``reason`` is the report's drop reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def conversation_texts(template: OwnTemplate, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                       *, last_only: bool = False, plain: bool | None = None) -> ConversationTexts:
    """The prompt and generated text of every assistant turn (only the final one with ``last_only``). ``plain``:
    whether messages and tools are plain JSON values (checked when None)."""
    messages = template.prepared(messages)
    if plain is None:
        plain = is_plain_json(messages) and is_plain_json(tools)
    assistant = [i for i, message in enumerate(messages) if message.get("role") == "assistant"]
    if not assistant:
        raise TurnError("no_trained_tokens", "no assistant message")
    renders: dict[tuple[int, bool], str] = {}

    def rendered(count: int, add_generation_prompt: bool) -> str:
        key = (count, add_generation_prompt)
        if key not in renders:
            renders[key] = template.render(messages[:count], tools, add_generation_prompt, plain)
        return renders[key]

    try:
        whole = rendered(len(messages), False)
    except Exception as exc:  # noqa: BLE001 - the template refuses the conversation: its message is the reason
        raise TurnError("template_error", describe(exc)) from None
    wanted = assistant[-1:] if last_only else assistant
    out = ConversationTexts(turns=[])
    for position, index in enumerate(wanted):
        later = wanted[position + 1] if position + 1 < len(wanted) else None
        try:
            turn = _turn(template, messages, tools, index, later, rendered)
        except _LeftOut as left:
            out.left_out.append((left.reason, f"assistant message {index}: {left.detail}"))
            continue
        out.turns.append(turn)
        reasoning = messages[index].get("reasoning_content")
        if isinstance(reasoning, str) and reasoning.strip() and reasoning.strip() not in turn.generated:
            out.reasoning_not_rendered += 1
    if out.turns:
        head = out.turns[-1].prompt + out.turns[-1].generated
        if whole.startswith(head):
            out.tail = whole[len(head):]
    return out


class _LeftOut(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _turn(template: OwnTemplate, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, index: int,
          later: int | None, rendered: Callable[[int, bool], str]) -> Turn:
    try:
        prompt, full = rendered(index, True), rendered(index + 1, False)
    except Exception as exc:  # noqa: BLE001
        raise _LeftOut("template_error", describe(exc)) from None
    if not full.startswith(prompt):
        common = _common_prefix(prompt, full)
        raise _LeftOut("prompt_mismatch", f"the generation prompt is not where the rendered turn starts: from "
                                          f"character {common} the prompt has {prompt[common:common + 50]!r}, the "
                                          f"turn {full[common:common + 50]!r}")
    rest = full[len(prompt):]
    stop = template.stop_pattern.search(rest)
    if stop is not None:
        generated = rest[:stop.end()]
    else:
        header = _stop_in_next_header(template, messages, tools, index, later, full, rendered)
        if header is None:
            raise _LeftOut("no_stop_token", f"the turn ends {rest[-60:]!r} without any of the stop tokens "
                                            f"{list(template.stop_tokens)}, and so does the next message's header")
        generated = rest + header
    missing = _unrendered(messages[index], generated)
    if missing:
        raise _LeftOut("turn_not_rendered", f"the template does not render its {', '.join(missing)}")
    return Turn(index, prompt, generated)


def _stop_in_next_header(template: OwnTemplate, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                         index: int, later: int | None, full: str,
                         rendered: Callable[[int, bool], str]) -> str | None:
    """The text after the turn through the stop token that the next message's header starts with, if it does.

    The header is read from a longer render: the next turn's prompt, or the conversation up to the next message.
    After the final message it is the header the template's probe found after such a turn (a tool result after
    calls, a user message otherwise), else one from a render with such a message made up. Where the longer render
    keeps the turn as ``full`` has it, the header follows ``full``; where it rewrites the turn in history (drops its
    reasoning, say), it follows the turn's last characters."""
    if index + 1 == len(messages):  # the final message: the header the template writes after such a turn
        known = template.final_headers.get(bool(messages[index].get("tool_calls")))
        if known is not None:
            return known
    candidates: list[Callable[[], str]] = []
    if later is not None:
        candidates.append(lambda: rendered(later, True))
    if index + 1 < len(messages):
        candidates.append(lambda: rendered(index + 2, False))
    else:
        candidates.append(lambda: template.render(messages + [_following(messages[index])], tools, False))
    rest = full[len(rendered(index, True)):]
    for candidate in candidates:
        try:
            text = candidate()
        except Exception:  # noqa: BLE001 - the next render is only a witness of the header
            continue
        position = (len(full) if text.startswith(full)
                    else _after_turn(text, full, rest, messages[index].get("reasoning_content")))
        if position is not None and position < len(text):
            stop = template.stop_at_end(text[position:])
            if stop is not None:
                return text[position:position + stop.end()]
    return None


def _after_turn(text: str, full: str, rest: str, reasoning: Any) -> int | None:
    """Where the turn ends in ``text``, a render that changed it: after the first occurrence, from where ``text``
    and ``full`` part, of the turn's last characters after its reasoning (which the change may have dropped), and
    its trailing whitespace."""
    body = rest.rstrip()
    start = max(0, len(body) - _ANCHOR_CHARS)
    if isinstance(reasoning, str) and reasoning.strip() and (found := body.rfind(reasoning.strip())) != -1:
        start = max(start, found + len(reasoning.strip()))
    anchor = body[start:]
    if not anchor:
        return None
    found = text.find(anchor, max(0, _common_prefix(text, full) - len(anchor)))
    if found == -1:
        return None
    position, trailing = found + len(anchor), rest[len(body):]
    return position + len(trailing) if text.startswith(trailing, position) else None


def _following(message: dict[str, Any]) -> dict[str, Any]:
    """A message that would follow ``message`` at inference: the result of its first call, or a user message."""
    calls = message.get("tool_calls") or []
    if calls and isinstance(calls[0], dict):
        function = calls[0].get("function", calls[0])
        name = function.get("name", "") if isinstance(function, dict) else ""
        return {"role": "tool", "tool_call_id": calls[0].get("id", "call_0"), "name": name, "content": "ok"}
    return {"role": "user", "content": "ok"}


def _unrendered(message: dict[str, Any], generated: str) -> list[str]:
    """Parts of an assistant message absent from its generated text: its content, or a call's name."""
    missing = []
    content = message.get("content")
    if isinstance(content, str) and content.strip() and content.strip() not in generated:
        missing.append("content")
    for call in message.get("tool_calls") or []:
        function = call.get("function", call) if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name and name not in generated:
            missing.append(f"tool call {name!r}")
    return missing


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix (bisected on slices)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low
