"""ReAct text conversations: ToolLLaMA, ms_agent / MSAgent-Bench, Qwen ReAct prompting, ms-swift ReAct rows.

Records are ``conversations`` (``from``/``value``) or ``messages`` (``role``/``content``) whose assistant turns
write calls as text: ``Thought: .. Action: <tool> Action Input: <JSON or Python dict>``, English or Chinese
keywords (see ``_react``). Results come either in separate turns (ToolLLaMA ``function``, ``tool``,
``observation``, or a user turn starting with ``Observation:`` right after a call; the prefix is removed) or inline in the assistant text after ``Observation:``
(ms_agent), in which case the turn is split into assistant(call) -> tool(observation) -> assistant(answer).

Tools come from a record-level ``tools`` value when present, else from the prompt (ToolBench API dump, JSON tool
objects, or ``name: description Parameters: [...]`` entries; unknown parameter types become string); otherwise
``tools`` stays empty and calls carry "undeclared" warnings. The system prompt is kept verbatim.
Option ``react_thoughts="reasoning"`` puts the thoughts of call turns in ``reasoning_content`` instead of content.
"""

from __future__ import annotations

from ..conversation import ConversationBuilder, split_reasoning, strip_markers
from ..errors import InvalidRecord
from ..schema import Row, Tool
from ._instructions import build_clean_row
from ._prompt_tools import declared_tools, tools_from_prompt
from ._react import REACT, feed_text, has_call, observations
from ._turns import ROLE_ALIASES, Turn, raw_turns, read_turns, record_meta, source_roles, texts_of

FORMAT = "react"
OPTIONS: tuple[str, ...] = ("license", "language", "react_thoughts", "keep_format_instructions")

_CANONICAL_ROLES = {"system", "user", "assistant", "tool"}
_THOUGHT_MODES = ("content", "reasoning")


def detect(record: dict) -> bool:
    found = raw_turns(record)
    if not found or not found[1]:
        return False
    roles = source_roles(record)
    if len(roles) != len(found[1]) or not {ROLE_ALIASES.get(r, r) for r in roles} <= _CANONICAL_ROLES:
        return False
    if any(isinstance(t, dict) and ("tool_calls" in t or "function_call" in t) for t in found[1]):
        return False
    return any(has_call(text) for text in texts_of(record, {"assistant"}))


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    return react_row(record, source=source, strict=strict, options=options)


def react_row(record: dict, *, source: str, strict: bool, options: dict, meta: dict | None = None) -> Row:
    """Build the row of a ReAct conversation (also used for ms-swift's legacy agent rows)."""
    thoughts = options.get("react_thoughts", "content")
    if thoughts not in _THOUGHT_MODES:
        raise ValueError(f"react_thoughts must be one of {_THOUGHT_MODES}, got {thoughts!r}")
    turns = read_turns(record)
    row_meta = {**record_meta(record, options), **(meta or {})}
    builder = ConversationBuilder(_tools(record, turns, row_meta))
    inline = 0
    for turn in turns:
        inline += add_turn(builder, turn, thoughts)
    if inline:
        row_meta["inline_observations"] = inline
    return build_clean_row(builder, source, row_meta, strict, options, user_prompt=True)


def add_turn(builder: ConversationBuilder, turn: Turn, thoughts: str = "content") -> int:
    """Feed one ReAct turn; returns the number of observations found inside assistant text."""
    if turn.role == "system":
        builder.system(turn.text)
    elif turn.role == "user":
        last = builder.messages[-1] if builder.messages else None
        results = observations(turn.text)
        if last is not None and "tool_calls" in last and results != [turn.text.strip()]:
            for observation in results:  # observations fed back as a user turn (prompt-style transcripts)
                builder.result(observation)
        else:
            builder.user(turn.text)
    elif turn.role == "assistant":
        reasoning, text = split_reasoning(strip_markers(turn.text))
        try:
            return feed_text(builder, text, keywords=REACT, thoughts=thoughts, reasoning=reasoning)
        except InvalidRecord as exc:
            raise InvalidRecord(f"{turn.where}: {exc.reason}") from None
    elif turn.role == "tool":
        name = turn.raw.get("name") if isinstance(turn.raw.get("name"), str) else None
        for observation in observations(turn.text):
            builder.result(observation, name)
    else:
        raise InvalidRecord(f"{turn.where} has unsupported role {turn.raw.get('from', turn.raw.get('role'))!r}")
    return 0


def _tools(record: dict, turns: list[Turn], meta: dict) -> list[Tool]:
    tools = declared_tools(record.get("tools"), "tools")
    if tools:
        meta["tools_from"] = "record"
        return tools
    prompts = [t.text for t in turns if t.role == "system"]
    first_user = next((t.text for t in turns if t.role == "user"), None)
    for prompt in [*prompts, *([first_user] if first_user else [])]:
        tools = tools_from_prompt(prompt)
        if tools:
            meta["tools_from"] = "system_prompt" if prompt in prompts else "user_prompt"
            return tools
    return []
