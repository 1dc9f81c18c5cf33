"""The canonical row: one conversation with its tools, in the OpenAI tool-calling shape.

Storage choices (they are what makes a row usable straight from ``load_dataset``):

* ``tools`` is an Arrow list of structs; ``parameters`` is a ``datasets.Json()`` value, so each tool keeps its own
  JSON Schema without Arrow unifying the schemas of different tools into one null-padded struct.
* ``messages`` is a list of ``Json()`` values: every message decodes to a dict that holds only the keys it really
  has. A struct column would hand ``{"tool_calls": None, ...}`` to every message, and templates that test key
  presence (Llama 3.1's ``'tool_calls' in message``) would then break.
* tool-call ``arguments`` are JSON objects (dicts), never strings.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")


class FunctionCall(TypedDict):
    """The function part of a tool call."""

    name: str
    """Name of the called function, as declared in ``tools`` (may be undeclared: then a warning is recorded)."""
    arguments: dict[str, Any]
    """Arguments as a JSON object. Strings, double-encoded strings and Python literals are parsed on the way in."""


class ToolCall(TypedDict):
    """One call inside an assistant message."""

    id: str
    """Upstream id when the source had one, else a deterministic ``call_<row>_<k>`` id."""
    type: Literal["function"]
    function: FunctionCall


class Message(TypedDict):
    """One chat message. Only ``role`` and ``content`` are always present; other keys appear only where they apply."""

    role: Role
    content: str
    """Text of the message. An assistant turn that only calls tools has ``""``."""
    tool_calls: NotRequired[list[ToolCall]]
    """Assistant only: the calls of this turn; several = parallel calls."""
    tool_call_id: NotRequired[str]
    """Tool only: id of the call this result answers (linked by position when the source has no ids)."""
    name: NotRequired[str]
    """Tool only: name of the function that produced this result."""
    reasoning_content: NotRequired[str]
    """Assistant only: reasoning / chain of thought kept apart from the answer."""


class FunctionSpec(TypedDict):
    """A declared function."""

    name: str
    description: str
    parameters: dict[str, Any]
    """JSON Schema object: ``{"type": "object", "properties": {...}, "required": [...]}``."""


class Tool(TypedDict):
    """A declared tool, OpenAI-wrapped."""

    type: Literal["function"]
    function: FunctionSpec


class Row(TypedDict):
    """One canonical conversation."""

    id: str
    """Content hash of tools + messages: the same conversation gets the same id on every run and machine."""
    source: str
    """Name of the source config the row was built from."""
    tools: list[Tool] | None
    """Declared tools; ``None`` (not ``[]``) when the row declares none, so ``apply_chat_template(tools=...)`` of
    templates that test ``tools is not none`` (Llama 3.1) renders no tool section."""
    messages: list[Message]
    meta: dict[str, Any]
    """Provenance and facts about the row: ``format``, ``license``, ``language``, repairs that were made, ..."""
    warnings: list[str]
    """Validation findings (undeclared tool, argument violating its schema, repaired arguments, ...)."""


def features():
    """The ``datasets.Features`` of a canonical row (imported lazily: ``datasets`` is heavy)."""
    from datasets import Features, Json, List, Value

    return Features(
        {
            "id": Value("string"),
            "source": Value("string"),
            "tools": List(
                {
                    "type": Value("string"),
                    "function": {
                        "name": Value("string"),
                        "description": Value("string"),
                        "parameters": Json(),
                    },
                }
            ),
            "messages": List(Json()),
            "meta": Json(),
            "warnings": List(Value("string")),
        }
    )


def batch_features():
    """Features of ``normalize_batch`` output: the canonical columns plus ``error`` (None for normalized rows)."""
    from datasets import Value

    result = features()
    result["error"] = Value("string")
    return result
