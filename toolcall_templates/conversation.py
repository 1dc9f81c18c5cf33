"""Build canonical conversations the same way for every source.

Source normalizers describe what they read (``system``, ``user``, ``assistant``, ``call``, ``result``) and the
builder applies the shared rules: consecutive calls collapse into one assistant turn (parallel calls), tool results
are linked to calls by position (falling back to the function name), missing ids get deterministic ones, arguments
in any encoding become JSON objects, transport markers are stripped, and the finished row gets its content hash id
and validation warnings.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .arguments import dumps, parse_arguments
from .errors import InvalidRecord
from .schema import Message, Row, Tool, ToolCall
from .validation import validate_calls

TRANSPORT_MARKERS = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "</s>")


def strip_markers(text: str) -> str:
    """Remove trailing transport markers (``<|endoftext|>``, ``<|im_end|>``, ...) and surrounding whitespace."""
    text = text.strip()
    changed = True
    while changed:
        changed = False
        for marker in TRANSPORT_MARKERS:
            if text.endswith(marker):
                text = text[: -len(marker)].rstrip()
                changed = True
    return text


_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def split_reasoning(text: str) -> tuple[str | None, str]:
    """Split a leading ``<think>...</think>`` block off assistant text: ``(reasoning or None, rest)``.

    An unterminated leading ``<think>`` (generation cut off inside the reasoning) makes the whole text reasoning."""
    match = _THINK.match(text)
    if match:
        return match.group(1).strip("\n"), text[match.end():]
    stripped = text.lstrip()
    if stripped.startswith("<think>") and "</think>" not in stripped:
        return stripped[len("<think>"):].strip("\n"), ""  # reasoning cut off before its closing tag
    return None, text


def as_text(value: Any, what: str) -> str:
    """Content as a string: None becomes "", objects and lists are serialized as JSON (non-ASCII kept)."""
    if value is None or value == []:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(p, dict) and "type" in p for p in value):
        return _join_text_parts(value, what)
    if isinstance(value, (dict, list, int, float, bool)):
        return dumps(value)
    raise InvalidRecord(f"{what}: unsupported content type {type(value).__name__}")


def _join_text_parts(parts: list[dict], what: str) -> str:
    """OpenAI-style content parts: join the text parts; other kinds (images, audio) are not supported."""
    texts = []
    for part in parts:
        if part["type"] not in ("text", "input_text", "output_text"):
            raise InvalidRecord(f"{what}: content part of type {part['type']!r} is not supported (text only)")
        texts.append(str(part.get("text", "")))
    return "".join(texts)


class ConversationBuilder:
    """Accumulates messages of one conversation and finishes them into a canonical row."""

    def __init__(self, tools: list[Tool] | None = None):
        self.tools: list[Tool] = list(tools or [])
        self.messages: list[Message] = []
        self.repairs: list[str] = []
        self.notes: list[str] = []
        self._pending: list[ToolCall] = []
        self._answered_turn = False

    # -- plain turns -------------------------------------------------------------------------------------------
    def system(self, content: Any) -> None:
        self._close_turn()
        self.messages.append({"role": "system", "content": as_text(content, "system message")})

    def user(self, content: Any) -> None:
        self._close_turn()
        self.messages.append({"role": "user", "content": as_text(content, "user message")})

    def assistant(self, content: Any = "", reasoning: str | None = None) -> None:
        """An assistant text turn (calls may follow and join it)."""
        self._close_turn()
        message: Message = {"role": "assistant", "content": as_text(content, "assistant message")}
        if reasoning:
            message["reasoning_content"] = reasoning
        self.messages.append(message)

    # -- tool use ----------------------------------------------------------------------------------------------
    def call(self, name: Any, arguments: Any, call_id: str | None = None) -> None:
        """Add a tool call; it joins the current assistant turn unless a result has come since."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidRecord(f"tool call #{self._call_count()} has no function name")
        try:
            args, repair = parse_arguments(arguments)
        except InvalidRecord as exc:
            raise InvalidRecord(f"tool call {name!r}: {exc.reason}") from None
        if repair:
            self.repairs.append(f"{name}: {repair}")
        call: ToolCall = {"id": call_id or "", "type": "function", "function": {"name": name.strip(), "arguments": args}}
        last = self.messages[-1] if self.messages else None
        if last is None or last["role"] != "assistant" or self._answered_turn:
            self._close_turn()
            last = {"role": "assistant", "content": ""}
            self.messages.append(last)
        last.setdefault("tool_calls", []).append(call)
        self._pending.append(call)

    def result(self, content: Any, name: str | None = None, call_id: str | None = None) -> None:
        """Add a tool result, linked to a pending call by id, else by position, else by function name."""
        call = self._take_pending(name, call_id)
        if call is None:
            raise InvalidRecord(f"tool result #{self._result_count()} answers no preceding tool call")
        self._answered_turn = True
        message: Message = {"role": "tool", "content": as_text(content, "tool result")}
        message["tool_call_id"] = call_id or call["id"] or _PendingRef(call)  # type: ignore[typeddict-item]
        message["name"] = name or call["function"]["name"]
        self.messages.append(message)

    def _take_pending(self, name: str | None, call_id: str | None) -> ToolCall | None:
        if not self._pending:
            return None
        index = 0
        if call_id:
            index = next((i for i, c in enumerate(self._pending) if c["id"] == call_id), 0)
        elif name and self._pending[0]["function"]["name"] != name:
            index = next((i for i, c in enumerate(self._pending) if c["function"]["name"] == name), 0)
        return self._pending.pop(index)

    def _close_turn(self) -> None:
        self._pending = []
        self._answered_turn = False

    def _call_count(self) -> int:
        return sum(len(m.get("tool_calls", [])) for m in self.messages)

    def _result_count(self) -> int:
        return sum(1 for m in self.messages if m["role"] == "tool")

    # -- finishing ---------------------------------------------------------------------------------------------
    def build(self, source: str, meta: dict[str, Any] | None = None, strict: bool = False) -> Row:
        """Finish the row: check its shape, assign ids, validate calls, hash the content."""
        if not any(m["role"] == "assistant" for m in self.messages):
            raise InvalidRecord("conversation has no assistant turn")
        if not any(m["role"] == "user" for m in self.messages):
            raise InvalidRecord("conversation has no user turn")
        assign_call_ids(self.messages, self.tools)
        warnings = validate_calls(self.messages, self.tools)
        if strict and warnings:
            raise InvalidRecord("strict mode: " + "; ".join(warnings))
        row_meta = dict(meta or {})
        if self.repairs:
            row_meta["repairs"] = self.repairs
        if self.notes:
            row_meta["notes"] = self.notes
        return {
            "id": content_id(self.tools, self.messages),
            "source": source,
            "tools": self.tools or None,
            "messages": self.messages,
            "meta": row_meta,
            "warnings": warnings,
        }


class _PendingRef(str):
    """Placeholder for a tool_call_id whose call gets its synthesized id at build time."""

    def __new__(cls, call: ToolCall):
        obj = super().__new__(cls, "")
        obj.call = call  # type: ignore[attr-defined]
        return obj


def assign_call_ids(messages: list[Message], tools: list[Tool]) -> None:
    """Give id-less calls ``call_<hash8>_<k>`` (hash of the id-less content) and resolve the results' links."""
    calls = [c for m in messages for c in m.get("tool_calls", [])]
    if any(not c["id"] for c in calls):
        prefix = content_id(tools, messages)[:8]
        for k, call in enumerate(calls):
            if not call["id"]:
                call["id"] = f"call_{prefix}_{k}"
    for message in messages:
        ref = message.get("tool_call_id")
        if isinstance(ref, _PendingRef):
            message["tool_call_id"] = ref.call["id"]  # type: ignore[attr-defined]


def content_id(tools: list[Tool], messages: list[Message]) -> str:
    """Stable content hash (sha256 of the canonical JSON, 16 hex chars)."""
    payload = json.dumps({"tools": tools, "messages": messages}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
