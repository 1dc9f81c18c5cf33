"""Recover a tool call that a source left as text in the assistant turn before a tool result.

Machine-translated copies of Glaive (LLaMA-Factory ``glaive_toolcall_zh_demo``) sometimes translate the call
itself: the ``gpt`` turn ends with ``"AI 计算折扣: {\\"原价\\": 200}"`` and an ``observation`` follows. The result
proves a call was made; its arguments are the last JSON object of the text (the line holding it is the call, the
rest stays content) and its function is the declared tool that the label or the argument names point to (the only
tool, when just one is declared). The caller records a warning, so the repair is never silent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..conversation import ConversationBuilder
from ..errors import InvalidRecord
from ..schema import Tool

_DECODER = json.JSONDecoder()
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]")


def recover_call_from_text(builder: ConversationBuilder, where: str) -> str:
    """Turn the trailing JSON object of the last assistant text into a call; return the warning to record.

    Raises InvalidRecord when there is no such text, no trailing object, or no tool it can be attributed to.
    """
    last = builder.messages[-1] if builder.messages else None
    if last is None or last["role"] != "assistant" or last.get("tool_calls"):
        raise InvalidRecord(f"{where}: tool result answers no preceding tool call")
    text = last["content"]
    found = _last_object(text)
    if found is None:
        raise InvalidRecord(f"{where}: tool result follows an assistant text turn that holds no call payload")
    start, end, arguments = found
    line_start = text.rfind("\n", 0, start) + 1
    label = text[line_start:start].strip()
    name = _pick_tool(builder.tools, label, arguments)
    if name is None:
        raise InvalidRecord(
            f"{where}: tool result follows an assistant text turn with a call payload ({label!r}) that matches "
            "no single declared tool"
        )
    last["content"] = "\n".join(part for part in (text[:line_start].rstrip(), text[end:].strip()) if part)
    builder.call(name, arguments)
    index = len(builder.messages) - 1
    return (
        f"messages[{index}]: tool call {name!r} recovered from assistant text {text[line_start:end][:80]!r} "
        "(the source has a tool result after a text turn)"
    )


def _last_object(text: str) -> tuple[int, int, dict[str, Any]] | None:
    """``(start, end, value)`` of the last top-level JSON object in the text, preferring one that ends it."""
    found: tuple[int, int, dict[str, Any]] | None = None
    position = 0
    for match in re.finditer(r"\{", text):
        if match.start() < position:
            continue  # inside an object already found
        try:
            value, end = _DECODER.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found, position = (match.start(), end, value), end
    return found


def _pick_tool(tools: list[Tool], label: str, arguments: dict[str, Any]) -> str | None:
    names = [tool["function"]["name"] for tool in tools]
    named = [name for name in names if name.lower() in label.lower()]
    if len(named) == 1:
        return named[0]
    if len(names) == 1:
        return names[0]
    clue = _words(" ".join([label, *arguments]))
    scores = [(len(clue & _words(_vocabulary(tool))), tool["function"]["name"]) for tool in tools]
    scores.sort(reverse=True)
    if scores and scores[0][0] > 0 and (len(scores) == 1 or scores[0][0] > scores[1][0]):
        return scores[0][1]
    return None


def _vocabulary(tool: Tool) -> str:
    function = tool["function"]
    properties = function["parameters"].get("properties") or {}
    parts = [function["name"].replace("_", " "), function["description"]]
    for name, prop in properties.items():
        parts.append(name.replace("_", " "))
        if isinstance(prop, dict) and isinstance(prop.get("description"), str):
            parts.append(prop["description"])
    return " ".join(parts)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))
