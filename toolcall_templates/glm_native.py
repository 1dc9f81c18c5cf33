"""Canonical (OpenAI-style) conversation → GLM-4's native messages, the form the official glm-4-9b-chat template reads.

The official template ignores ``tools=``, ``tool_calls`` and role ``tool``. GLM-4's own convention (its
``openai_api_server.py`` and finetune README) is instead:

* the tools ride on a system message: ``{"role": "system", "content": ..., "tools": [...]}``;
* every call is its own assistant message
  ``{"role": "assistant", "metadata": <function name>, "content": <JSON args>}``, the arguments spelt as the model
  emits them, ``json.dumps(args, ensure_ascii=False)``; text that precedes the calls in the same turn becomes a plain
  assistant message before them (parallel calls = consecutive call messages);
* a tool result is ``{"role": "observation", "content": ...}``.

Where the tools go: on the conversation's leading system message when there is one (its own text is kept, so the
official template renders the tool block and then that text as a second ``<|system|>`` block), else on a new system
message with empty content put first. GLM-4's API server drops the user's system message instead; this module never
drops text. ``jinja/glm4.jinja`` renders the canonical form exactly as the official template renders this output.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .arguments import dumps, parse_arguments, parse_json_value
from .conversation import as_text
from .errors import InvalidRecord

GLMMessage = dict[str, Any]


def to_glm_messages(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> list[GLMMessage]:
    """GLM-4 native messages for a canonical conversation and its tools (``None`` or ``[]``: no tool block).

    Raises:
        InvalidRecord: a message is not an object, has an unknown role, or carries a malformed tool call.
    """
    native: list[GLMMessage] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRecord(f"messages[{index}] is not an object")
        native.extend(_native_turn(message, f"messages[{index}]"))
    glm_tools = [glm_tool(tool, f"tools[{k}]") for k, tool in enumerate(tools or [])]
    if glm_tools:
        if native and native[0]["role"] == "system" and "tools" not in native[0]:
            native[0] = {**native[0], "tools": glm_tools}
        else:
            native.insert(0, {"role": "system", "content": "", "tools": glm_tools})
    return native


def row_to_glm_messages(row: Mapping[str, Any]) -> list[GLMMessage]:
    """GLM-4 native messages of a canonical row (``messages`` + ``tools``)."""
    return to_glm_messages(row["messages"], row.get("tools"))


def glm_tool(tool: Mapping[str, Any], where: str = "tool") -> dict[str, Any]:
    """A tool as the official template expects it: OpenAI-wrapped, ``parameters`` a JSON object (not JSON text)."""
    if not isinstance(tool, Mapping):
        raise InvalidRecord(f"{where} is not an object")
    if "type" in tool and tool["type"] != "function":
        return dict(tool)  # GLM-4 built-in tools (python, simple_browser, cogview) pass through unchanged
    spec = tool.get("function", tool)
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise InvalidRecord(f"{where} has no function name")
    spec = dict(spec)
    if isinstance(spec.get("parameters"), str):
        spec["parameters"] = parse_json_value(spec["parameters"], f"{where}.parameters")
    if "function" in tool:
        return {**tool, "function": spec}
    return {"type": "function", "function": spec}


def _native_turn(message: Mapping[str, Any], where: str) -> list[GLMMessage]:
    role = message.get("role")
    content = as_text(message.get("content"), f"{where}.content")
    if role in ("system", "user"):
        return [{"role": role, "content": content}]
    if role == "tool":
        return [{"role": "observation", "content": content}]
    if role != "assistant":
        raise InvalidRecord(f"{where} has unsupported role {role!r} (expected system, user, assistant or tool)")
    calls = message.get("tool_calls") or []
    turn: list[GLMMessage] = [{"role": "assistant", "content": content}] if content or not calls else []
    for k, call in enumerate(calls):
        turn.append(_native_call(call, f"{where}.tool_calls[{k}]"))
    return turn


def _native_call(call: Any, where: str) -> GLMMessage:
    if not isinstance(call, Mapping):
        raise InvalidRecord(f"{where} is not an object")
    function = call.get("function", call)
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
        raise InvalidRecord(f"{where} has no function name")
    try:
        arguments, _ = parse_arguments(function.get("arguments"))
    except InvalidRecord as exc:
        raise InvalidRecord(f"{where}: {exc.reason}") from None
    return {"role": "assistant", "metadata": function["name"], "content": dumps(arguments)}
