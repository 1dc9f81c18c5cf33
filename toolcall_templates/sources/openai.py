"""OpenAI chat format: ``messages`` + ``tools`` / ``tool_calls`` / role ``tool``, and the legacy form
``functions`` / ``function_call`` / role ``function``. Also accepts SDK dumps (``trajectory`` key, ``refusal``/``audio``
noise), calls without ``id``/``type``, double-encoded or object arguments, content-part lists, and a leading
``<think>`` block in assistant content (moved to ``reasoning_content``).
"""

from __future__ import annotations

from typing import Any

from ..conversation import ConversationBuilder, as_text, split_reasoning
from ..errors import InvalidRecord
from ..schema import Row
from ..tool_schema import normalize_tools
from ._instructions import build_clean_row

FORMAT = "openai"
OPTIONS: tuple[str, ...] = ("keep_format_instructions",)
_MESSAGE_KEYS = ("messages", "trajectory")


def _messages(record: dict) -> Any:
    return next((record[k] for k in _MESSAGE_KEYS if isinstance(record.get(k), list)), None)


def detect(record: dict) -> bool:
    messages = _messages(record)
    return bool(messages) and isinstance(messages[0], dict) and "role" in messages[0]


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    messages = _messages(record)
    if not messages:
        raise InvalidRecord("record has no 'messages' list")
    tools, notes = normalize_tools(record.get("tools") or record.get("functions"), "tools")
    builder = ConversationBuilder(tools)
    builder.notes += notes
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRecord(f"messages[{index}] is not an object")
        add_openai_message(builder, message, f"messages[{index}]")
    meta = {"legacy_functions": True} if "functions" in record and "tools" not in record else {}
    return build_clean_row(builder, source, meta, strict, options)


def add_openai_message(builder: ConversationBuilder, message: dict, where: str) -> None:
    """Feed one OpenAI-style message (current or legacy form) to the builder."""
    role = message.get("role")
    content = message.get("content")
    if role == "system" or role == "developer":
        builder.system(content)
    elif role == "user":
        builder.user(content)
    elif role == "assistant":
        text = as_text(content, f"{where}.content")
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if not reasoning:
            reasoning, text = split_reasoning(text)
        calls = message.get("tool_calls") or []
        legacy = message.get("function_call")
        if legacy:
            calls = [*calls, {"function": legacy}]
        if text or reasoning or not calls:
            builder.assistant(text, reasoning)
        for k, call in enumerate(calls):
            if not isinstance(call, dict):
                raise InvalidRecord(f"{where}.tool_calls[{k}] is not an object")
            if call.get("type", "function") != "function":
                raise InvalidRecord(f"{where}.tool_calls[{k}] has unsupported type {call.get('type')!r}")
            function = call.get("function") if isinstance(call.get("function"), dict) else call
            builder.call(function.get("name"), function.get("arguments"), call.get("id") or None)
    elif role in ("tool", "function"):
        builder.result(content, message.get("name"), message.get("tool_call_id") or None)
    else:
        raise InvalidRecord(f"{where} has unsupported role {role!r}")
