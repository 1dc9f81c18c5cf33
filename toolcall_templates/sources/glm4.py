"""GLM-4 fine-tuning records and their ChatGLM3 predecessors.

* GLM-4 (``THUDM/GLM-4`` finetune README): ``{"messages": [...]}`` with the tools on the system message
  (``{"role": "system", "content": "", "tools": [...]}``), role ``observation`` for results, and a call written
  as assistant content: JSON ``{"name", "arguments"}``, or ``"name\\n{json}"`` as GLM-4's template renders it
  (accepted when the name is declared or an observation follows), or ``metadata`` = name with the JSON
  arguments as content.
* ChatGLM3 native: ``metadata`` = tool name and content a code block ``tool_call(a=1, b='x')`` (parsed with
  ``ast``, literals only).
* ChatGLM3 finetune: top-level ``tools`` + ``conversations``; a ``{"role": "tool", "name", "parameters",
  "observation"}`` pseudo-message expands to the call and its result. Per-message ``loss`` flags go to
  ``meta["loss_weights"]`` (canonical message index -> 1.0 / 0.0).

Empty system messages (GLM-4 requires them to carry tools) are dropped. OpenAI-style ``tool_calls`` and role
``tool`` results are accepted too.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from ..conversation import ConversationBuilder, as_text, split_reasoning
from ..errors import InvalidRecord
from ..schema import Row, Tool
from ._instructions import build_clean_row
from ._located import add_call, add_result
from ._tool_defs import merge_tools, read_tools
from .openai import add_openai_message

FORMAT = "glm4"
OPTIONS: tuple[str, ...] = ("keep_format_instructions",)
_CONTAINERS = ("messages", "conversations")
_CODE_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)
_NAME_LINE = re.compile(r"^([A-Za-z_][\w.\-]*)\n(\{.*\})\s*$", re.DOTALL)
_CALL_KEYS = ({"name", "arguments"}, {"name", "parameters"})


def detect(record: dict) -> bool:
    """Messages with role ``observation``, tools on a system message, a string ``metadata`` (ChatGLM3 tool
    turn) or a ChatGLM3 ``role: tool`` pseudo-message; plain OpenAI records are left to the ``openai`` format."""
    messages = _messages(record)
    if not messages:
        return False
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            return False
    for message in messages:
        role = message["role"]
        if role == "observation" or (role == "system" and "tools" in message):
            return True
        if isinstance(message.get("metadata"), str) and message["metadata"].strip():
            return True
        if role == "tool" and ("parameters" in message or "observation" in message):
            return True
    return False


def _messages(record: dict) -> list | None:
    return next((record[k] for k in _CONTAINERS if isinstance(record.get(k), list) and record[k]), None)


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    messages = _messages(record)
    if not messages:
        raise InvalidRecord("record has no non-empty 'messages' or 'conversations' list")
    tools = _collect_tools(record, messages)
    declared = {tool["function"]["name"] for tool in tools}
    builder = ConversationBuilder(tools)
    loss_weights: dict[str, float] = {}
    chatglm3 = "conversations" in record and "messages" not in record
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRecord(f"{where} is not an object")
        following = messages[index + 1] if index + 1 < len(messages) else None
        chatglm3 |= _add_message(builder, message, where, declared, following)
        if "loss" in message:
            pseudo_call = message.get("role") == "tool" and "observation" in message
            anchor = len(builder.messages) - (2 if pseudo_call else 1)  # the flag is the call's, not the result's
            loss_weights[str(anchor)] = _loss(message["loss"], where)
    meta: dict[str, Any] = {"variant": "chatglm3" if chatglm3 else "glm4"}
    if loss_weights:
        meta["loss_weights"] = loss_weights
    return build_clean_row(builder, source, meta, strict, options)


def _collect_tools(record: dict, messages: list) -> list[Tool]:
    groups = [read_tools(record.get("tools"), "tools")[0]]
    for index, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "system" and message.get("tools"):
            groups.append(read_tools(message["tools"], f"messages[{index}].tools")[0])
    return merge_tools(*groups)


def _add_message(
    builder: ConversationBuilder, message: dict, where: str, declared: set[str], following: Any
) -> bool:
    """Feed one message; returns True when it is in a ChatGLM3-only shape."""
    role = message.get("role")
    content = message.get("content")
    if role == "system":
        text = as_text(content, where)
        if text.strip():
            builder.system(text)
    elif role == "user":
        builder.user(content)
    elif role == "assistant":
        return _assistant(builder, message, where, declared, following)
    elif role == "observation":
        add_result(builder, where, as_text(content, where))
    elif role == "tool" and ("parameters" in message or "observation" in message):
        add_call(builder, where, message.get("name"), message.get("parameters"))
        if "observation" in message:
            add_result(builder, where, as_text(message["observation"], where), message.get("name"))
        return True
    elif role in ("tool", "function"):
        add_openai_message(builder, message, where)
    else:
        raise InvalidRecord(f"{where} has unsupported role {role!r}")
    return False


def _assistant(builder: ConversationBuilder, message: dict, where: str, declared: set[str], following: Any) -> bool:
    if message.get("tool_calls") or message.get("function_call"):
        add_openai_message(builder, message, where)
        return False
    text = as_text(message.get("content"), where)
    metadata = message.get("metadata")
    if isinstance(metadata, str) and metadata.strip():
        before, arguments, chatglm3 = _metadata_arguments(text, where)
        if before:
            builder.assistant(before)
        add_call(builder, where, metadata.strip(), arguments)
        return chatglm3
    calls = _content_calls(text, declared, _is_observation(following))
    if calls is not None:
        for name, arguments in calls:
            add_call(builder, where, name, arguments)
        return False
    if _CODE_BLOCK.search(text) and "tool_call(" in text:
        raise InvalidRecord(f"{where}: ChatGLM3 tool_call code block without 'metadata' naming the tool")
    reasoning, text = split_reasoning(text)
    builder.assistant(text, reasoning)
    return False


def _metadata_arguments(text: str, where: str) -> tuple[str, Any, bool]:
    """``(text before the call, arguments, is_chatglm3_code)`` of a ``metadata`` tool turn."""
    block = _CODE_BLOCK.search(text)
    if block and "tool_call(" in block.group(1):
        return text[:block.start()].strip(), parse_tool_call_code(block.group(1), where), True
    if block:
        raise InvalidRecord(f"{where}: code block without tool_call(...) (code-interpreter turns are not tool calls)")
    stripped = text.strip()
    if not stripped:
        return "", {}, False
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        return "", stripped, False  # let the builder's argument parser try (Python literal) or report it
    if isinstance(value, dict) and set(value) in _CALL_KEYS:
        value = value.get("arguments", value.get("parameters"))
    return "", value, False


def parse_tool_call_code(code: str, where: str = "tool_call") -> dict[str, Any]:
    """Keyword arguments of ChatGLM3's ``tool_call(a=1, b='x')`` (literal values only; never evaluated)."""
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidRecord(f"{where}: tool_call code is not valid Python: {exc.msg}") from None
    call = tree.body
    if not isinstance(call, ast.Call) or call.args:
        raise InvalidRecord(f"{where}: expected tool_call(name=value, ...) with keyword arguments only")
    arguments: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise InvalidRecord(f"{where}: tool_call(**kwargs) is not supported")
        try:
            arguments[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise InvalidRecord(f"{where}: tool_call argument {keyword.arg!r} is not a literal value") from None
    return arguments


def _content_calls(text: str, declared: set[str], answered: bool) -> list[tuple[str, Any]] | None:
    """Calls written as the whole assistant content, or None when the content is ordinary text."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            return None
        items = value if isinstance(value, list) else [value]
        if items and all(isinstance(item, dict) and set(item) in _CALL_KEYS for item in items):
            return [(item["name"], item.get("arguments", item.get("parameters"))) for item in items]
        return None
    match = _NAME_LINE.match(stripped)
    if match and (match.group(1) in declared or answered):
        try:
            arguments = json.loads(match.group(2))
        except json.JSONDecodeError:
            return None
        if isinstance(arguments, dict):
            return [(match.group(1), arguments)]
    return None


def _is_observation(message: Any) -> bool:
    """Whether a message is a tool result (not a ChatGLM3 ``role: tool`` pseudo-call)."""
    if not isinstance(message, dict):
        return False
    if message.get("role") == "observation":
        return True
    return message.get("role") in ("tool", "function") and "parameters" not in message and "observation" not in message


def _loss(value: Any, where: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    raise InvalidRecord(f"{where}.loss must be a boolean, got {value!r}")

