"""Parse ReAct text (``Action:`` / ``Action Input:`` / ``Observation:``) generated for the ``chatml-react-*`` and
``chatml-toolbench`` templates back into an assistant turn.

One generated turn looks like
``[Thought: ..\\n][text\\n]Action: name\\nAction Input: {args}\\n[Action: ..]Observation:`` when it calls
tools (inference stops at ``Observation:``, so that keyword may be missing), or
``[Thought: ..\\nFinal Answer: ]text`` ending with the stop token otherwise. A leading ``Thought:`` that reaches up to
an ``Action:`` or ``Final Answer:`` line becomes ``reasoning_content`` (the templates render reasoning that way);
the rest before the first ``Action:`` line is the content, verbatim. Action inputs are parsed as JSON or as Python
literals (ms-swift prints arguments with Python ``repr``).

Strict: malformed actions raise ToolCallParseError. Lenient (``strict=False``, ``_lenient.py``): the turn ends at the
first ``Observation:`` (the stop string; a cut-off one at the end is dropped), an action without a usable input (cut
off, not an object, no name) yields no call, the calls before it are kept, and the content comes back without
surrounding whitespace.
"""

from __future__ import annotations

import re

from ..arguments import parse_arguments
from ..errors import InvalidRecord
from ..schema import ToolCall
from . import ParsedTurn, ToolCallParseError
from ._lenient import attempt

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
_KEYWORDS = ("Action:", "Action Input:", "Observation:")
_KEYWORD = re.compile(r"^[ \t]*(Action Input|Action|Observation):[ \t]?", re.MULTILINE)
_THOUGHT = re.compile(r"\s*Thought: ?")
_THOUGHT_END = re.compile(r"\n(Final Answer|Action): ?")


def parse(text: str, strict: bool = True) -> ParsedTurn:
    """``{content, tool_calls}`` of one generated ReAct turn; in strict mode ToolCallParseError on malformed
    actions."""
    if not isinstance(text, str):
        raise ToolCallParseError(f"generated text must be a string, got {type(text).__name__}")
    body = strip_stop_tokens(text, STOP_TOKENS)
    reasoning, body, final = _split_thought(body)
    turn: ParsedTurn = {"content": body, "tool_calls": []}
    if reasoning is not None:
        turn["reasoning_content"] = reasoning
    if final:
        return turn
    stopped = True
    if not strict:
        body, stopped = _up_to_observation(body)
    keywords = list(_KEYWORD.finditer(body))
    first_action = next((k for k in keywords if k.group(1) == "Action"), None)
    first_input = next((k for k in keywords if k.group(1) == "Action Input"), None)
    if strict and first_input is not None and (first_action is None or first_input.start() < first_action.start()):
        raise ToolCallParseError("Action Input without a preceding Action")
    if first_action is not None:
        before = body[: first_action.start()]
        turn["content"] = before.rstrip("\n") if strict else before.strip()
        turn["tool_calls"] = _calls(body, [k for k in keywords if k.start() >= first_action.start()], strict, stopped)
    elif not strict and (keywords or body != turn["content"]):
        turn["content"] = body[:keywords[0].start() if keywords else len(body)].strip()
    return turn


def _up_to_observation(body: str) -> tuple[str, bool]:
    """The turn up to its first ``Observation:`` line (where inference stops), without a keyword cut off at its end
    (a last line that is the start of ``Action:``, ``Action Input:`` or ``Observation:``); and whether it reached
    that ``Observation:``."""
    observation = next((k for k in _KEYWORD.finditer(body) if k.group(1) == "Observation"), None)
    if observation is not None:
        return body[:observation.start()], True
    line_start = body.rfind("\n") + 1
    last_line = body[line_start:].lstrip(" \t")
    if last_line and any(keyword.startswith(last_line) and keyword != last_line for keyword in _KEYWORDS):
        return body[:line_start], False
    return body, False


def _split_thought(body: str) -> tuple[str | None, str, bool]:
    """``(reasoning, rest, is_final_answer)``: a leading ``Thought:`` ending at an Action / Final Answer line."""
    thought = _THOUGHT.match(body)
    if thought is None:
        return None, body, False
    end = _THOUGHT_END.search(body, thought.end())
    if end is None:
        return None, body, False
    reasoning = body[thought.end():end.start()]
    if end.group(1) == "Final Answer":
        return reasoning, body[end.end():], True
    return reasoning, body[end.start() + 1:], False


def strip_stop_tokens(text: str, tokens: tuple[str, ...]) -> str:
    """Drop trailing stop tokens (and blank space around them); the text itself is otherwise untouched."""
    body = text
    stripped = True
    while stripped:
        stripped = False
        for token in tokens:
            if body.rstrip().endswith(token):
                body = body.rstrip()[: -len(token)]
                stripped = True
    return body


def _calls(body: str, keywords: list[re.Match[str]], strict: bool, stopped: bool = True) -> list[ToolCall]:
    """Pair every ``Action:`` with the ``Action Input:`` that follows it; ``Observation:`` may only end the turn.
    Lenient: an action that cannot be paired or read yields no call, nor does an empty input that ends a turn which
    did not reach its ``Observation:`` (``stopped``)."""
    calls: list[ToolCall] = []
    pending_name: str | None = None
    for index, keyword in enumerate(keywords):
        end = keywords[index + 1].start() if index + 1 < len(keywords) else len(body)
        value = body[keyword.end():end]
        kind = keyword.group(1)
        if kind == "Action":
            if strict and pending_name is not None:
                raise ToolCallParseError(f"Action {pending_name!r} has no Action Input")
            pending_name = attempt(strict, lambda: _action_name(value))
        elif kind == "Action Input":
            if pending_name is None:
                if strict:
                    raise ToolCallParseError("Action Input without a preceding Action")
                continue
            cut_off = not strict and not value.strip() and index + 1 == len(keywords) and not stopped
            call = None if cut_off else attempt(strict, lambda: _tool_call(pending_name, value.strip(), len(calls)))
            if call is not None:
                calls.append(call)
            pending_name = None
        else:
            if value.strip():
                raise ToolCallParseError(
                    "text continues after 'Observation:'; parse one generated turn at a time (the model stops there)"
                )
            if index + 1 < len(keywords):
                raise ToolCallParseError("'Observation:' in the middle of a turn; parse one generated turn at a time")
    if strict and pending_name is not None:
        raise ToolCallParseError(f"Action {pending_name!r} has no Action Input")
    return calls


def _action_name(value: str) -> str:
    """The tool name of an ``Action:`` line."""
    name = value.strip()
    if not name:
        raise ToolCallParseError("Action line without a tool name")
    if "\n" in name:
        raise ToolCallParseError(f"text between 'Action: {name.splitlines()[0]}' and its Action Input")
    return name


def _tool_call(name: str, raw_arguments: str, index: int) -> ToolCall:
    """One call; the input must decode (JSON, else Python literal) to an object."""
    try:
        arguments, _ = parse_arguments(raw_arguments)
    except InvalidRecord as exc:
        raise ToolCallParseError(f"Action Input of {name!r} is not an object: {exc.reason}") from None
    return {"id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": arguments}}
