"""The general path of ``ConversationEncoder``: exact rows from a chat template used as it is.

Per batch: each conversation's turn texts (:mod:`turn_texts`: the prompt and the generated text of each assistant
turn, two renders per turn plus the whole conversation), every one of those texts tokenized in one call of the
segment encoder (a conversation's prompts share their pieces, so each piece is encoded once and reused: the
whole-conversation tokenization, taken apart where the turns meet), rows assembled where the ids chain exactly
(:mod:`turn_rows`), and each row fitted into ``max_length`` (:mod:`truncation`).

``history`` says what to do with a conversation that one row cannot hold exactly: ``"split"`` (default) keeps one
row per run of turns that chain, each with its inference context, and leaves out the turns that cannot be expressed
(counted with their reasons); ``"drop"`` drops the conversation, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .own_template import OwnTemplate
from .segment_encoder import SegmentEncoder
from .truncation import EncodedConversation, fit
from .turn_rows import EncodedTurn, TurnRow, chained_rows
from .turn_texts import ConversationTexts, Turn, TurnError, conversation_texts

if TYPE_CHECKING:
    from .conversation_encoder import Outcome

HISTORY_POLICIES: tuple[str, ...] = ("split", "drop")

Item = tuple[list[dict[str, Any]], "list[dict[str, Any]] | None", bool, bool]
"""``(messages, tools, escaped, plain)`` of one conversation (``plain``: made of plain JSON values only)."""


def check_history_policy(history: str) -> str:
    if history not in HISTORY_POLICIES:
        raise ValueError(f"history must be one of {HISTORY_POLICIES}, got {history!r}")
    return history


class TurnEncoder:
    """Encodes batches of conversations turn by turn with one ``OwnTemplate``, filling their ``Outcome``."""

    def __init__(self, template: OwnTemplate, segments: SegmentEncoder, *, last_only: bool, history: str = "split",
                 max_length: int | None = None, truncation: str = "drop"):
        self.template = template
        self.segments = segments
        self.last_only = last_only
        self.history = check_history_policy(history)
        self.max_length = max_length
        self.truncation = truncation

    def encode(self, items: Sequence[Item], outcomes: Sequence["Outcome"]) -> None:
        """Fill each outcome with its rows, or the reason its conversation is dropped."""
        all_texts: list[ConversationTexts | None] = []
        for (messages, tools, _, plain), outcome in zip(items, outcomes):
            try:
                all_texts.append(conversation_texts(self.template, messages, tools, last_only=self.last_only,
                                                    plain=plain))
            except TurnError as exc:
                outcome.drop_reason, outcome.detail = exc.reason, exc.detail
                all_texts.append(None)
        wanted = [(texts.turns, texts.tail) if texts else ([], "") for texts in all_texts]
        encoded = self._encode([w[0] for w in wanted], [w[1] for w in wanted], [item[2] for item in items])
        for item, texts, outcome, (turns, tail) in zip(items, all_texts, outcomes, encoded):
            if texts is not None:
                self._finish(item, texts, chained_rows(turns, tail), outcome)

    # -- steps -------------------------------------------------------------------------------------------------
    def _encode(self, turn_lists: Sequence[list[Turn]], tails: Sequence[str],
                escaped: Sequence[bool]) -> list[tuple[list[EncodedTurn], np.ndarray]]:
        """Every prompt, generated text and tail of the batch in one segment-encoder call."""
        texts: list[str] = []
        flags: list[bool] = []
        for turns, tail, esc in zip(turn_lists, tails, escaped):
            for turn in turns:
                texts += (turn.prompt, turn.generated)
            texts.append(tail)
            flags += [esc] * (2 * len(turns) + 1)
        ids = [encoded for encoded, _ in self.segments.encode(texts, escaped=flags)]
        out, position = [], 0
        for turns in turn_lists:
            encoded_turns = [EncodedTurn(turn.index, ids[position + 2 * k], ids[position + 2 * k + 1])
                             for k, turn in enumerate(turns)]
            position += 2 * len(turns)
            out.append((encoded_turns, ids[position]))
            position += 1
        return out

    def _finish(self, item: Item, texts: ConversationTexts, rows: list[TurnRow], outcome: "Outcome") -> None:
        left_out = list(texts.left_out)
        outcome.reasoning_not_rendered = texts.reasoning_not_rendered
        if not rows:
            outcome.drop_reason, outcome.detail = left_out[0]
            return
        if self.history == "drop" and (left_out or len(rows) > 1):
            outcome.drop_reason, outcome.detail = left_out[0] if left_out else ("history_rewritten", _split_detail(rows))
            return
        kept: list[EncodedConversation] = []
        first_failure: tuple[str, str] | None = None
        messages, tools, escaped, plain = item
        for row in rows:
            final = row is rows[-1] and bool(texts.turns) and row.turns[-1] == texts.turns[-1].index
            row_messages = messages if final else messages[:row.turns[-1] + 1]
            own = {id(messages[index]) for index in row.turns}
            fitted = fit(EncodedConversation(row.input_ids, row.labels, row.turn_ends), self.max_length,
                         self.truncation, row_messages,
                         lambda shorter, own=own: self._reencode(shorter, tools, escaped, plain, own))
            if fitted.conversation is None:
                failure = (fitted.drop_reason or "too_long", f"assistant messages {row.turns}: {fitted.detail}")
                first_failure = first_failure or failure
                left_out.append(failure)
                continue
            outcome.truncated = outcome.truncated or fitted.truncated
            kept.append(fitted.conversation)
        if not kept:
            outcome.drop_reason, outcome.detail = first_failure  # type: ignore[misc]
            return
        outcome.input_ids, outcome.labels = kept[0].input_ids, kept[0].labels
        outcome.extra_rows = [(c.input_ids, c.labels) for c in kept[1:]]
        outcome.turns_left_out = [f"{reason}: {detail}" for reason, detail in left_out]
        outcome.history = "partial" if left_out else ("split" if len(kept) > 1 else "exact")

    def _reencode(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, escaped: bool,
                  plain: bool, own: set[int]) -> EncodedConversation | None:
        """A shortened conversation (truncation by whole turns) as one exact row training only the row's own turns;
        None when it is not one."""
        try:
            texts = conversation_texts(self.template, messages, tools, last_only=self.last_only, plain=plain)
        except TurnError:
            return None
        turns = [turn for turn in texts.turns if id(messages[turn.index]) in own]
        if not turns:
            return None
        tail = texts.tail if turns[-1] is texts.turns[-1] else ""
        encoded_turns, tail_ids = self._encode([turns], [tail], [escaped])[0]
        rows = chained_rows(encoded_turns, tail_ids)
        if len(rows) != 1:
            return None
        return EncodedConversation(rows[0].input_ids, rows[0].labels, rows[0].turn_ends)


def _split_detail(rows: list[TurnRow]) -> str:
    before, after = rows[0].turns[-1], rows[1].turns[0]
    return (f"the tokens of assistant message {before} are not the start of assistant message {after}'s prompt "
            "(the template renders the earlier turn differently in history, or the tokenization merges across "
            "its end); history='split' keeps them as separate rows")
