"""Turn-safe truncation: a conversation longer than ``max_length`` is dropped or cut only between whole turns.

Policies (``truncation=``):

* ``"drop"`` (default): the row is dropped, reason ``too_long``.
* ``"prefix"``: keep the longest prefix that ends right after an assistant stop token (the end of a
  ``{% generation %}`` block), so no tool call, tool result or answer is ever cut in the middle.
* ``"drop_oldest"``: keep the system prompt and tools and drop the oldest whole turns (a turn starts at a user
  message) until the conversation fits; it is re-rendered, so the template places tools and system text exactly as it
  would for the shorter conversation. When even the last turn alone is too long, ``"prefix"`` is applied to it.

A row left with no trained token is dropped (``no_trained_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

TRUNCATION_POLICIES: tuple[str, ...] = ("drop", "prefix", "drop_oldest")


@dataclass
class EncodedConversation:
    """Ids and labels of one rendered conversation, with the token position after each assistant stop token."""

    input_ids: Sequence[int]
    """Token ids (an ``int32`` numpy array from the encoder; any sequence works)."""
    labels: Sequence[int]
    turn_ends: list[int] = field(default_factory=list)
    """Token position just past each assistant turn's trained block (its stop token), in order."""

    def __len__(self) -> int:
        return len(self.input_ids)

    def has_trained_token(self) -> bool:
        return bool(np.any(np.asarray(self.labels) != -100))


@dataclass
class Fitted:
    """The outcome of fitting one conversation into ``max_length``."""

    conversation: EncodedConversation | None
    truncated: str | None = None
    """The policy that shortened the row (None when it already fitted)."""
    drop_reason: str | None = None
    detail: str = ""


def check_policy(policy: str) -> str:
    if policy not in TRUNCATION_POLICIES:
        raise ValueError(f"truncation must be one of {TRUNCATION_POLICIES}, got {policy!r}")
    return policy


def keep_prefix(conversation: EncodedConversation, max_length: int) -> EncodedConversation | None:
    """The longest prefix ending after an assistant stop token within ``max_length`` tokens; None when none fits."""
    cut = max((end for end in conversation.turn_ends if end <= max_length), default=0)
    if cut == 0:
        return None
    return EncodedConversation(
        conversation.input_ids[:cut], conversation.labels[:cut], [e for e in conversation.turn_ends if e <= cut]
    )


def split_turns(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """``(head, turns)``: the leading system messages, then one list per turn, each starting at a user message."""
    head_end = 0
    while head_end < len(messages) and messages[head_end].get("role") == "system":
        head_end += 1
    turns: list[list[dict[str, Any]]] = []
    for message in messages[head_end:]:
        if message.get("role") == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return messages[:head_end], turns


def fit(
    conversation: EncodedConversation,
    max_length: int | None,
    policy: str,
    messages: list[dict[str, Any]] | None = None,
    reencode: Callable[[list[dict[str, Any]]], EncodedConversation | None] | None = None,
) -> Fitted:
    """Apply ``policy`` to a conversation longer than ``max_length``; ``reencode`` renders + encodes messages."""
    if max_length is None or len(conversation) <= max_length:
        return _checked(conversation, None)
    if policy == "drop":
        return Fitted(None, drop_reason="too_long", detail=f"{len(conversation)} tokens > max_length {max_length}")
    if policy == "drop_oldest" and messages is not None and reencode is not None:
        return _drop_oldest(conversation, max_length, messages, reencode)
    prefix = keep_prefix(conversation, max_length)
    if prefix is None:
        return Fitted(None, drop_reason="too_long",
                      detail=f"first assistant turn ends after max_length {max_length}")
    return _checked(prefix, "prefix")


def _drop_oldest(
    conversation: EncodedConversation,
    max_length: int,
    messages: list[dict[str, Any]],
    reencode: Callable[[list[dict[str, Any]]], EncodedConversation | None],
) -> Fitted:
    head, turns = split_turns(messages)
    if len(turns) < 2:
        return fit(conversation, max_length, "prefix")
    cache: dict[int, EncodedConversation | None] = {}

    def without_oldest(k: int) -> EncodedConversation | None:
        if k not in cache:
            cache[k] = reencode(head + [m for turn in turns[k:] for m in turn])
        return cache[k]

    # Fewest dropped turns that fit: lengths shrink as turns are dropped, so bisect over k in [1, len(turns) - 1].
    low, high = 1, len(turns) - 1
    while low < high:
        mid = (low + high) // 2
        candidate = without_oldest(mid)
        if candidate is not None and len(candidate) <= max_length:
            high = mid
        else:
            low = mid + 1
    best = without_oldest(low)
    if best is None:
        return Fitted(None, drop_reason="too_long", detail="shortened conversation could not be rendered")
    if len(best) <= max_length:
        return _checked(best, "drop_oldest")
    prefix = keep_prefix(best, max_length)
    if prefix is None:
        return Fitted(None, drop_reason="too_long",
                      detail=f"last turn alone is longer than max_length {max_length}")
    return _checked(prefix, "drop_oldest")


def _checked(conversation: EncodedConversation, truncated: str | None) -> Fitted:
    if not conversation.has_trained_token():
        reason = "no trained token left after truncation" if truncated else "no trained token"
        return Fitted(None, truncated=truncated, drop_reason="no_trained_tokens", detail=reason)
    return Fitted(conversation, truncated=truncated)
