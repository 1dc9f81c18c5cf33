"""What a backend returns for one turn, and the interface every generation backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .turns import EvalTurn


@dataclass
class Generation:
    """One generated assistant turn."""

    text: str
    """The generated text, through the stop token where the backend returns it (the content, for a chat server)."""
    stopped: bool
    """Generation ended on a stop token (``finish_reason`` ``stop`` or ``tool_calls``), not on the token limit."""
    finish_reason: str
    """``stop``, ``tool_calls`` (chat servers), ``length``, or ``error``."""
    tool_calls: list[dict[str, Any]] | None = None
    """Calls already parsed by the server (chat completions with ``tools=``); None when the text is ours to parse."""
    parse_error: str | None = None
    """Why a server's call did not read as one (arguments that are not a JSON object)."""
    reasoning: str | None = None
    """A server's separate reasoning text, when it returns one."""
    error: str | None = None
    """Why the backend produced no output for this turn (an HTTP error of the server); the turn is not scored."""
    new_tokens: int | None = None
    """Tokens generated, where the backend says."""


class Generator(Protocol):
    """A generation backend: greedy (deterministic) generation of assistant turns."""

    backend: str
    """``transformers``, ``completions`` or ``chat``."""
    renders_prompts: bool
    """The turns need our rendered ``prompt`` (False: the server renders the messages with its own template)."""
    batch_size: int

    def generate(self, turns: Sequence[EvalTurn]) -> list[Generation]:
        """One generation per turn, in order."""
        ...

    def describe(self) -> dict[str, Any]:
        """What was evaluated and how, for the report."""
        ...
