"""Qwen function-calling data that the ``openai`` and ``hermes`` normalizers cannot express.

* Rendered ChatML strings in a single ``text`` field (``<|im_start|>role\\n...<|im_end|>``): Qwen2.5 / Qwen3
  ``<tools>`` / ``<tool_call>`` / ``<tool_response>`` turns (results in user or tool turns), or Qwen-Agent markers.
* Qwen-Agent messages (``functions`` + messages with role ``function``, ``function_call: {name, arguments}``,
  ``reasoning_content``, content as ``[{"text": ...}]`` items) and dumps of its prompt text, where assistant content
  holds ``✿FUNCTION✿: name`` / ``✿ARGS✿: {json}`` / ``✿RESULT✿: ...`` / ``✿RETURN✿: ...`` (parallel form too;
  inline results are split into tool turns). Qwen-1 ReAct text inside ChatML assistant turns is parsed as ``react``.
* ChatML-style messages whose assistant content holds ``<function_call>{"name", "arguments"}</function_call>``.

Tools come from ``functions`` / ``tools``, else from a ``<tools>`` or ``<functions>`` block in the system text
(removed from it, with the whole section when a known template wrote it), else from the Qwen-Agent "# Tools" /
"# 工具" prompt (kept verbatim). Results come in ``function`` / ``tool`` turns or ``<tool_response>`` user turns.
"""

from __future__ import annotations

from typing import Any

from ..conversation import ConversationBuilder, as_text, split_reasoning, strip_markers
from ..errors import InvalidRecord
from ..schema import Row
from . import hermes
from ._chatml import chatml_turns, is_chatml
from ._instructions import build_clean_row
from ._prompt_tools import declared_tools, tools_from_prompt
from ._react import QWEN_AGENT, REACT, feed_text, has_call
from ._turns import ROLE_ALIASES, Turn, raw_turns, read_turns, record_meta, source_roles, turn_text

FORMAT = "qwen"
OPTIONS: tuple[str, ...] = ("license", "language", "keep_tool_prompt", "keep_format_instructions")

_AGENT_MARKERS = ("✿FUNCTION✿", "✿ARGS✿", "✿RESULT✿", "✿RETURN✿")
_MARKERS = (*_AGENT_MARKERS, "<function_call>")
_ITEM_KEYS = {"text", "image", "file", "audio", "video"}
_ROLES = {"system", "user", "assistant", "tool"}


def detect(record: dict) -> bool:
    if is_chatml(record.get("text")) and raw_turns(record) is None:
        return True
    found = raw_turns(record)
    if not found or not found[1]:
        return False
    roles = source_roles(record)
    if len(roles) != len(found[1]) or not {ROLE_ALIASES.get(r, r) for r in roles} <= _ROLES:
        return False
    if any(isinstance(t, dict) and "tool_calls" in t for t in found[1]):
        return False  # OpenAI calls: the openai format, even when a prompt mentions Qwen-Agent's markers
    contents = [turn_text(t) for t in found[1]]
    if any(isinstance(c, str) and any(m in c for m in _MARKERS) for c in contents):
        return True
    return any(_is_item_list(c) for c in contents)


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    meta = record_meta(record, options)
    if raw_turns(record) is None and is_chatml(record.get("text")):
        turns = chatml_turns(record["text"])
        meta["variant"] = "chatml_text"
    else:
        turns = read_turns(record, text_of=_item_text)
        meta["variant"] = "messages"
    builder = ConversationBuilder(declared_tools(record.get("functions") or record.get("tools"), "functions"))
    if builder.tools:
        meta["tools_from"] = "record"
    keep = bool(options.get("keep_tool_prompt"))
    inline = 0
    for turn in turns:
        if turn.role == "system":
            _add_system(builder, turn.text, meta, keep)
        elif turn.role == "assistant":
            inline += _add_assistant(builder, turn)
        elif turn.role == "tool" and turn.raw.get("role", turn.raw.get("from")) != "tool":
            name = turn.raw.get("name")
            builder.result(turn.text, name if isinstance(name, str) else None)
        else:
            hermes.add_turn(builder, turn, meta, keep_tool_prompt=keep)
    if inline:
        meta["inline_observations"] = inline
    if keep:
        return builder.build(source, meta, strict)
    return build_clean_row(builder, source, meta, strict, options, user_prompt=True)


def _add_system(builder: ConversationBuilder, text: str, meta: dict, keep: bool) -> None:
    found = hermes.add_system(builder, text, meta, keep_tool_prompt=keep, tags=("tools", "functions"))
    if not found and not builder.tools:
        builder.tools = tools_from_prompt(text)
        if builder.tools:
            meta["tools_from"] = "system_prompt"


def _add_assistant(builder: ConversationBuilder, turn: Turn) -> int:
    """Assistant text (✿ markers, ``<function_call>`` or ``<tool_call>`` tags) plus a structured ``function_call``."""
    reasoning = turn.raw.get("reasoning_content") if isinstance(turn.raw.get("reasoning_content"), str) else None
    text = strip_markers(turn.text)
    if not reasoning:
        reasoning, text = split_reasoning(text)
    call = turn.raw.get("function_call")
    if call is not None and not isinstance(call, dict):
        raise InvalidRecord(f"{turn.where}.function_call must be an object, got {type(call).__name__}")
    inline = 0
    if text.strip() or reasoning or not call:
        try:
            if any(marker in text for marker in _AGENT_MARKERS):
                inline = feed_text(builder, text, keywords=QWEN_AGENT, reasoning=reasoning)
            elif "<tool_call>" not in text and "<function_call>" not in text and has_call(text, REACT):
                inline = feed_text(builder, text, keywords=REACT, reasoning=reasoning)
            else:
                tag = "function_call" if "<function_call>" in text else "tool_call"
                hermes.add_assistant(builder, text, turn.where, tag=tag, reasoning=reasoning)
        except InvalidRecord as exc:
            raise InvalidRecord(f"{turn.where}: {exc.reason}") from None
    if call:
        builder.call(call.get("name"), call.get("arguments"))
    return inline


def _is_item_list(content: Any) -> bool:
    return (
        isinstance(content, list) and bool(content)
        and all(isinstance(i, dict) and "type" not in i and _ITEM_KEYS & set(i) for i in content)
    )


def _item_text(raw: dict, where: str) -> str:
    """Text of a Qwen-Agent content item list (text items only), or of any other content."""
    content = turn_text(raw)
    if content == []:
        return ""
    if not _is_item_list(content):
        return as_text(content, f"{where} content")
    parts = []
    for item in content:
        if "text" not in item:
            kind = next(iter(_ITEM_KEYS & set(item)))
            raise InvalidRecord(f"{where}: content item of kind {kind!r} is not supported (text only)")
        parts.append(as_text(item["text"], f"{where} text item"))
    return "".join(parts)
