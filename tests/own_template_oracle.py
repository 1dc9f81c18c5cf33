"""An oracle for exact labels from a chat template used as it is, independent of the implementation.

For each assistant message ``i`` the oracle renders ``messages[:i]`` with ``add_generation_prompt=True`` (the prompt)
and ``messages[:i + 1]`` with ``tokenizer.apply_chat_template(..., tokenize=False)``, takes the rest after the prompt
through the first stop token (or, when the rest has none, through the stop token that the next message's header starts
with), and tokenizes prompt and generated text separately with ``tokenizer(text, add_special_tokens=False)``, as a
serving engine tokenizes a prompt and as the model emits its tokens. No code of the library is used.

``check_rows`` then holds the library's rows for one conversation against it:

* every trained position of a row lies in the generated ids of a turn whose prompt ids followed by its generated ids
  start the row, and is labelled with its id;
* every turn the oracle can express is trained in exactly one row, unless the library reports it left out;
* a conversation whose turns all chain (each turn's prompt ids start with the previous turn's prompt and generated
  ids) is one row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import TemplateError


@dataclass
class OracleTurn:
    index: int
    """Message index of the assistant turn."""
    prompt_ids: list[int] | None = None
    generated_ids: list[int] | None = None
    why_not: str = ""
    """Why the turn cannot be expressed (its ids are then None)."""

    @property
    def expressible(self) -> bool:
        return self.prompt_ids is not None


def text_arguments(messages: list[dict]) -> list[dict]:
    """Messages with mapping arguments as ``json.dumps(arguments, ensure_ascii=False)`` text (transformers'
    documented alternative form, for templates that take arguments as text)."""
    out = []
    for message in messages:
        if message.get("tool_calls"):
            message = json.loads(json.dumps(message))
            for call in message["tool_calls"]:
                function = call.get("function", call)
                if isinstance(function.get("arguments"), (dict, list)):
                    function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
        out.append(message)
    return out


def oracle_turns(tokenizer: Any, messages: list[dict], tools: list[dict] | None, stop_tokens: list[str],
                 last_only: bool = False, **kwargs: Any) -> list[OracleTurn]:
    """Prompt ids and generated ids of each assistant turn (only the final one with ``last_only``)."""
    def text(conversation: list[dict], prompt: bool = False) -> str:
        return tokenizer.apply_chat_template(conversation, tools=tools, tokenize=False, add_generation_prompt=prompt,
                                             **kwargs)

    def ids(string: str) -> list[int]:
        return list(tokenizer(string, add_special_tokens=False)["input_ids"])

    indices = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    turns = []
    for i in indices[-1:] if last_only else indices:
        turn = OracleTurn(i)
        turns.append(turn)
        try:
            prompt, full = text(messages[:i], prompt=True), text(messages[:i + 1])
        except (TemplateError, TypeError, ValueError) as exc:
            turn.why_not = f"the template raises: {exc}"
            continue
        if not full.startswith(prompt):
            turn.why_not = "the prompt is not a prefix of the rendered turn"
            continue
        rest = full[len(prompt):]
        ends = [found + len(stop) for stop in stop_tokens if (found := rest.find(stop)) != -1]
        if ends:
            generated = rest[:min(ends)]
        else:
            header = _next_header_stop(text, messages, i, full, rest, stop_tokens)
            if header is None:
                turn.why_not = "no stop token"
                continue
            generated = rest + header
        turn.prompt_ids, turn.generated_ids = ids(prompt), ids(generated)
    return turns


def _next_header_stop(text: Any, messages: list[dict], i: int, full: str, rest: str,
                      stop_tokens: list[str]) -> str | None:
    """Whitespace and the stop token that follow the turn in the render of the conversation up to the next message
    (made up after the final one). A render that rewrites the turn in history (drops its reasoning) is read after
    the last occurrence of the turn's text that follows its reasoning."""
    if i + 1 < len(messages):
        following = messages[:i + 2]
    else:
        calls = messages[i].get("tool_calls") or []
        nxt = ({"role": "tool", "tool_call_id": calls[0].get("id", "x"), "name": calls[0]["function"]["name"],
                "content": "result"} if calls else {"role": "user", "content": "next question"})
        following = messages[:i + 1] + [nxt]
    try:
        longer = text(following)
    except (TemplateError, TypeError, ValueError):
        return None
    if longer.startswith(full):
        after = longer[len(full):]
    else:  # the render rewrote the turn: read after its end, found by its text after any reasoning
        body = rest.rstrip()
        reasoning = (messages[i].get("reasoning_content") or "").strip()
        tail = body[body.rfind(reasoning) + len(reasoning):] if reasoning and reasoning in body else body
        tail = tail[-64:]
        found = longer.rfind(tail) if tail else -1
        if found == -1 or not longer.startswith(rest[len(body):], found + len(tail)):
            return None
        after = longer[found + len(tail) + len(rest) - len(body):]
    skipped = len(after) - len(after.lstrip())
    for stop in stop_tokens:
        if after.startswith(stop, skipped):
            return after[:skipped + len(stop)]
    return None


def chains(turns: list[OracleTurn]) -> bool:
    """Whether every expressible turn's prompt ids start with the previous one's prompt and generated ids."""
    usable = [t for t in turns if t.expressible]
    return all(after.prompt_ids[:len(b.prompt_ids) + len(b.generated_ids)] == b.prompt_ids + b.generated_ids
               for b, after in zip(usable, usable[1:]))


def check_rows(turns: list[OracleTurn], rows: list[tuple[list[int], list[int]]],
               left_out: set[int] = frozenset()) -> list[str]:
    """What is wrong with a conversation's rows against the oracle (empty: nothing)."""
    problems = []
    expressible = [t for t in turns if t.expressible]
    trained_in: dict[int, int] = {}
    for r, (ids, labels) in enumerate(rows):
        trained = {p for p, label in enumerate(labels) if label != -100}
        if any(labels[p] != ids[p] for p in trained):
            problems.append(f"row {r}: a label differs from its id")
        explained = set()
        for turn in expressible:
            start, end = len(turn.prompt_ids), len(turn.prompt_ids) + len(turn.generated_ids)
            if ids[:end] == turn.prompt_ids + turn.generated_ids and set(range(start, end)) <= trained:
                explained |= set(range(start, end))
                trained_in[turn.index] = trained_in.get(turn.index, 0) + 1
        if trained != explained:
            extra = sorted(trained - explained)[:5]
            problems.append(f"row {r}: positions {extra} are trained but are no turn's generated ids after its prompt")
    for turn in expressible:
        count = trained_in.get(turn.index, 0)
        if count > 1:
            problems.append(f"assistant message {turn.index} is trained in {count} rows")
        elif count == 0 and turn.index not in left_out:
            problems.append(f"assistant message {turn.index} is trained in no row and not reported left out")
    for turn in turns:
        if not turn.expressible and trained_in.get(turn.index):
            problems.append(f"assistant message {turn.index} is trained although {turn.why_not}")
    if chains(turns) and not left_out and len(rows) > 1:
        problems.append(f"{len(rows)} rows for a conversation whose turns all chain")
    return problems
