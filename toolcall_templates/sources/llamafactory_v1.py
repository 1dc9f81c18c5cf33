"""LLaMA-Factory v1 typed-content records.

Record: ``{"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": [{"type", "value"}],
"loss_weight"?: float}], "tools": "<JSON string>"}``. Item types: ``text`` (concatenated into content),
``reasoning`` (into ``reasoning_content``), ``tool_call`` (a JSON string ``{"name", "arguments"}``; several in one
message = parallel calls). Items of the early v1 draft are accepted too: ``tool_calls`` (one call or a JSON list
of calls) and ``tools`` (tool definitions inside a message, merged with the ``tools`` column).

A ``tool`` message answers the pending calls; when it packs several results as a JSON array (one item per call,
bare or ``{"tool_call_id", "name", "content"}`` wrappers) it is split into one tool message per call, and upstream
``tool_call_id``s found there become the ids of the calls they answer.
Explicit ``loss_weight``s are kept in ``meta["loss_weights"]`` keyed by canonical message index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..arguments import parse_json_value
from ..conversation import ConversationBuilder, split_reasoning
from ..errors import InvalidRecord
from ..schema import Row
from ._instructions import build_clean_row
from ._located import add_call, add_result
from ._results import ToolResult, split_results
from ._tool_defs import merge_tools, read_tools

FORMAT = "llamafactory_v1"
OPTIONS: tuple[str, ...] = ("keep_format_instructions",)
_ITEM_TYPES = ("text", "reasoning", "tool_call", "tool_calls", "tools")
_ROLES = ("system", "user", "assistant", "tool")


@dataclass
class _Turn:
    role: str
    where: str
    text: str = ""
    reasoning: list[str] = field(default_factory=list)
    calls: list[list[Any]] = field(default_factory=list)  # [name, raw arguments, id]
    results: list[ToolResult] = field(default_factory=list)
    loss_weight: float | None = None
    interleaved: bool = False
    tools: list[Any] = field(default_factory=list)  # raw tool definitions carried by ``tools`` items


def detect(record: dict) -> bool:
    """``messages`` whose content is a list of ``{"type", "value"}`` items (OpenAI parts use ``text``)."""
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    typed = False
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            return False
        content = message.get("content")
        if isinstance(content, list) and content:
            if not all(isinstance(item, dict) and "type" in item and "value" in item for item in content):
                return False
            typed = True
    return typed


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRecord("record has no non-empty 'messages' list")
    turns = [_read_turn(message, f"messages[{i}]") for i, message in enumerate(messages)]
    _split_tool_results(turns)
    _adopt_result_ids(turns)
    tools, notes = read_tools(record.get("tools"), "tools")
    for index, turn in enumerate(turns):
        for raw in turn.tools:
            more, more_notes = read_tools(raw, f"messages[{index}] tools item")
            tools, notes = merge_tools(tools, more), notes + more_notes
    builder = ConversationBuilder(tools)
    builder.notes += notes
    loss_weights: dict[str, float] = {}
    for turn in turns:
        _feed(builder, turn)
        if turn.loss_weight is not None:
            loss_weights[str(len(builder.messages) - 1)] = turn.loss_weight
        if turn.interleaved:
            builder.notes.append(f"messages[{len(builder.messages) - 1}]: reasoning interleaved with calls was joined")
    meta = {"loss_weights": loss_weights} if loss_weights else {}
    return build_clean_row(builder, source, meta, strict, options)


def _read_turn(message: Any, where: str) -> _Turn:
    if not isinstance(message, dict):
        raise InvalidRecord(f"{where} is not an object")
    role = message.get("role")
    if role not in _ROLES:
        raise InvalidRecord(f"{where} has unsupported role {role!r} (expected one of {list(_ROLES)})")
    turn = _Turn(role, where, loss_weight=_loss_weight(message.get("loss_weight"), where))
    content = message.get("content")
    items = [{"type": "text", "value": content}] if isinstance(content, str) else content
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InvalidRecord(f"{where}.content must be a list of typed items, got {type(content).__name__}")
    texts: list[str] = []
    for k, item in enumerate(items):
        kind, value = _item(item, f"{where}.content[{k}]")
        if kind == "text":
            texts.append(value)
        elif kind == "tools":
            turn.tools.append(value)
        elif role != "assistant":
            raise InvalidRecord(f"{where}.content[{k}]: a {role} message cannot hold a {kind!r} item")
        elif kind == "reasoning":
            turn.interleaved |= bool(turn.calls or texts)
            turn.reasoning.append(value)
        else:
            turn.calls += _calls(value, f"{where}.content[{k}]")
    turn.text = "".join(texts)
    return turn


def _item(item: Any, where: str) -> tuple[str, str]:
    if not isinstance(item, dict) or "type" not in item:
        raise InvalidRecord(f"{where} is not a typed content item")
    kind = item["type"]
    if kind not in _ITEM_TYPES:
        raise InvalidRecord(f"{where} has type {kind!r}; only {', '.join(_ITEM_TYPES)} items are supported")
    value = item.get("value")
    if kind in ("text", "reasoning") and not isinstance(value, str):
        raise InvalidRecord(f"{where} ({kind}) must have a string 'value'")
    return kind, value


def _calls(value: Any, where: str) -> list[list[Any]]:
    """``[name, raw arguments, id]`` of each call in a tool_call(s) item (one object or a list of them)."""
    payload = parse_json_value(value, f"{where} tool call")
    items = payload if isinstance(payload, list) and payload else [payload]
    calls = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidRecord(f"{where}: a tool call must be an object {{name, arguments}}, got {str(item)[:80]!r}")
        function = item.get("function") if isinstance(item.get("function"), dict) else item
        arguments = next((function[key] for key in ("arguments", "parameters") if key in function), None)
        call_id = item.get("id") if isinstance(item.get("id"), str) else None
        calls.append([function.get("name"), arguments, call_id])
    return calls


def _loss_weight(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRecord(f"{where}.loss_weight must be a number, got {value!r}")
    return float(value)


def _split_tool_results(turns: list[_Turn]) -> None:
    """Give each tool turn its results, split by the number of calls still unanswered before it."""
    pending = 0
    for turn in turns:
        if turn.role == "assistant":
            pending = len(turn.calls)
        elif turn.role == "tool":
            turn.results = split_results(turn.text, pending)
            pending = max(pending - len(turn.results), 0)
        else:
            pending = 0


def _adopt_result_ids(turns: list[_Turn]) -> None:
    """Id-less calls take the upstream ``tool_call_id`` of the result that answers them (by name, then order)."""
    for index, turn in enumerate(turns):
        if not turn.calls:
            continue
        results = []
        for later in turns[index + 1:]:
            if later.role != "tool":
                break
            results += later.results
        free = [call for call in turn.calls if not call[2]]
        for result in results:
            if not result.call_id or not free:
                continue
            call = next((c for c in free if c[0] == result.name), free[0])
            call[2] = result.call_id
            free.remove(call)


def _feed(builder: ConversationBuilder, turn: _Turn) -> None:
    if turn.role == "system":
        if turn.text:  # a system message may only carry a ``tools`` item
            builder.system(turn.text)
    elif turn.role == "user":
        builder.user(turn.text)
    elif turn.role == "tool":
        for result in turn.results:
            add_result(builder, turn.where, result.content, result.name, result.call_id)
    else:
        reasoning = "\n".join(turn.reasoning) or None
        text = turn.text
        if reasoning is None:
            reasoning, text = split_reasoning(text)
        if text or reasoning or not turn.calls:
            builder.assistant(text, reasoning)
        for name, arguments, call_id in turn.calls:
            add_call(builder, turn.where, name, arguments, call_id)

