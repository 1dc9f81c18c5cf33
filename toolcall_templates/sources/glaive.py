"""Raw Glaive function-calling records (glaiveai/glaive-function-calling-v2 and v1).

Record: ``{"system": "SYSTEM: <prompt> -\\n{schema}\\n\\n{schema}", "chat": "USER: ...\\n\\n\\nASSISTANT: ..."}``
(v1 style ``{"sample": "SYSTEM: ...USER: ..."}`` holds both in one string). The system text carries zero or more
concatenated pretty-printed JSON schemas; they become ``tools`` and the prompt sentence (without the ``SYSTEM:``
prefix and the dangling `` -``) stays the system message. ``chat`` is split on the ``USER:``, ``ASSISTANT:`` and
``FUNCTION RESPONSE:`` markers; ``<|endoftext|>`` and separators are stripped. An assistant segment
``[text] <functioncall> {"name": ..., "arguments": '<json>'}`` becomes that text plus a tool call (the
single-quoted arguments may contain apostrophes); a FUNCTION RESPONSE answers the preceding call and is kept
verbatim even when its JSON is truncated. Empty assistant segments (a trailing ``ASSISTANT:``) are dropped with a
note in ``meta["notes"]``.
"""

from __future__ import annotations

import re
from typing import Any

from ..conversation import ConversationBuilder, split_reasoning, strip_markers
from ..errors import InvalidRecord
from ..schema import Row
from ._glaive_text import parse_call_payload, split_system_schemas
from ._instructions import build_clean_row
from ._located import add_call, add_result
from ._tool_defs import read_tools

FORMAT = "glaive"
OPTIONS: tuple[str, ...] = ("keep_format_instructions",)
_MARKER = re.compile(r"(?:^\s*(SYSTEM)|(?:^|(?<=\s))(USER|ASSISTANT|FUNCTION RESPONSE)):[ \t]?")
_FUNCTIONCALL = "<functioncall>"
_ANNOUNCES_FUNCTIONS = re.compile(r"access to the following functions", re.IGNORECASE)


def detect(record: dict) -> bool:
    """A ``chat`` (optionally with ``system``) or ``sample`` transcript string with Glaive role markers."""
    chat = record.get("chat", record.get("sample"))
    if not isinstance(chat, str) or "messages" in record or "conversations" in record:
        return False
    if "system" in record and not isinstance(record["system"], str):
        return False
    return bool(re.match(r"\s*(SYSTEM|USER):", chat)) and "ASSISTANT:" in chat


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    chat = record.get("chat", record.get("sample"))
    if not isinstance(chat, str) or not chat.strip():
        raise InvalidRecord("record has no 'chat' transcript string")
    system = record.get("system") or ""
    if not isinstance(system, str):
        raise InvalidRecord(f"'system' must be a string, got {type(system).__name__}")
    segments = _segments(chat)
    if segments and segments[0][0] == "SYSTEM":
        system = f"{system}\n{segments.pop(0)[1]}" if system.strip() else segments.pop(0)[1]
    prompt, tools = _system_tools(system)
    builder = ConversationBuilder(tools)
    if prompt:
        builder.system(prompt)
    dropped = 0
    for index, (role, text) in enumerate(segments):
        where = f"chat segment #{index} ({role})"
        if role == "USER":
            builder.user(text)
        elif role == "ASSISTANT":
            if not text:
                dropped += 1
                continue
            _assistant(builder, text, where)
        else:
            add_result(builder, where, text)
    if dropped:
        builder.notes.append(f"dropped {dropped} empty ASSISTANT segment(s)")
    meta = {} if tools else {"no_functions": True}
    return build_clean_row(builder, source, meta, strict, options)


def _segments(chat: str) -> list[tuple[str, str]]:
    """``(role, text)`` per marker; text before the first marker is an error, not silently dropped."""
    matches = list(_MARKER.finditer(chat))
    if not matches:
        raise InvalidRecord("chat has no USER:/ASSISTANT: role markers")
    lead = chat[:matches[0].start()].strip()
    if lead:
        raise InvalidRecord(f"chat has text before its first role marker: {lead[:80]!r}")
    segments = []
    ends = [m.start() for m in matches[1:]] + [len(chat)]
    for match, end in zip(matches, ends, strict=True):
        segments.append((match.group(1) or match.group(2), strip_markers(chat[match.end():end])))
    return segments


def _system_tools(system: str) -> tuple[str, list]:
    text = system.strip()
    if text.startswith("SYSTEM:"):
        text = text[len("SYSTEM:"):].lstrip()
    prompt, schemas = split_system_schemas(text)
    if not schemas and _ANNOUNCES_FUNCTIONS.search(text) and "{" in text:
        raise InvalidRecord("system text announces functions but holds no parseable JSON schema")
    tools, _ = read_tools(schemas, "system schemas") if schemas else ([], [])
    return prompt, tools


def _assistant(builder: ConversationBuilder, text: str, where: str) -> None:
    reasoning, text = split_reasoning(text)
    if _FUNCTIONCALL not in text:
        builder.assistant(text, reasoning)
        return
    head, *payloads = text.split(_FUNCTIONCALL)
    calls: list[tuple[str, Any]] = []
    trailing: list[str] = []
    for payload in payloads:
        name, arguments, rest = parse_call_payload(strip_markers(payload))
        calls.append((name, arguments))
        if strip_markers(rest):
            trailing.append(strip_markers(rest))
    content = "\n".join(part for part in [head.strip(), *trailing] if part)
    if content or reasoning:
        builder.assistant(content, reasoning)
    for name, arguments in calls:
        add_call(builder, where, name, arguments)

