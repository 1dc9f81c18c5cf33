"""Render + tokenize canonical conversations in one pass, with labels on exactly the generated tokens.

Fast path (a shipped template): each conversation is rendered once through the template (which marks what the model
generates with ``{% generation %}``), the rendered texts of a batch are tokenized together (:mod:`segment_encoder`),
and the generation blocks' character spans are mapped to the tokens that overlap them. No message or turn is
re-tokenized.

General path (:mod:`turn_encoder`): any other template, used as it is (:mod:`template_choice` says which path); a
shipped template whose sidecar says it ``rewrites_history``; and the conversations whose whole-text tokenization has
a token crossing the edge of a generation span (:mod:`span_edges`), which inference never sees.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidRecord
from ..templates import ChatTemplate, JsonRenderer, is_plain_json, render
from .control_tokens import ControlTokenTable, check_policy as check_control_policy
from .gc_pause import collect_young_garbage, gc_paused
from .own_template import OwnTemplate, TemplateRefused, describe
from .segment_encoder import DEFAULT_CACHE_TOKENS, SegmentEncoder
from .span_edges import crosses_edges, with_edge_probes
from .template_choice import choose_template, detect_template, resolve_for_tokenizer  # noqa: F401 - public here
from .truncation import EncodedConversation, check_policy as check_truncation_policy, fit
from .turn_encoder import TurnEncoder, check_history_policy
from .turn_rows import IGNORE_INDEX

logger = logging.getLogger(__name__)

TRAIN_ON: tuple[str, ...] = ("assistant", "last_assistant")
GC_PAUSE_ROWS = 512
"""Rows encoded between two collections of the young generation while the collector is paused (``gc_pause``); a
Jinja render leaves about 60 objects of cyclic garbage."""


@dataclass
class Outcome:
    """What became of one row: ids and labels, or the reason it was dropped."""

    input_ids: np.ndarray | None = None
    """``int32`` token ids (``tokenize_conversation`` returns them as lists)."""
    labels: np.ndarray | None = None
    drop_reason: str | None = None
    detail: str = ""
    truncated: str | None = None
    control_tokens: list[str] = field(default_factory=list)
    escaped: bool = False
    extra_rows: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    """Further ``(input_ids, labels)`` rows of the same conversation (the general path splits a conversation that
    one row cannot hold exactly)."""
    history: str | None = None
    """For a kept conversation: ``"exact"`` (one row, every turn), ``"split"`` (several rows) or ``"partial"``
    (turns left out, see ``turns_left_out``)."""
    turns_left_out: list[str] = field(default_factory=list)
    """``"reason: assistant message i: detail"`` per turn of a kept conversation that no row trains."""
    reasoning_not_rendered: int = 0
    """Trained turns whose ``reasoning_content`` the template does not render."""


@dataclass
class _Prepared:
    index: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    plain: bool
    escaped: bool = False
    text: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)


class ConversationEncoder:
    """Tokenizes batches of canonical rows for one tokenizer and template; keeps a cache of recurring pieces."""

    def __init__(
        self,
        tokenizer: Any,
        template: "str | ChatTemplate | None" = None,
        *,
        max_length: int | None = None,
        train_on: str = "assistant",
        truncation: str = "drop",
        control_tokens: str = "reject",
        template_kwargs: Mapping[str, Any] | None = None,
        cache_tokens: int = DEFAULT_CACHE_TOKENS,
        stop_tokens: Sequence[str] | None = None,
        history: str = "split",
    ):
        if train_on not in TRAIN_ON:
            raise ValueError(f"train_on must be one of {TRAIN_ON}, got {train_on!r}")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be positive, got {max_length}")
        self.tokenizer = tokenizer
        choice = choose_template(template, tokenizer, template_kwargs)
        self.template = choice.template
        self.max_length = max_length
        self.train_on = train_on
        self.truncation = check_truncation_policy(truncation)
        self.control_policy = check_control_policy(control_tokens)
        self.history = check_history_policy(history)
        self.render_kwargs = {**stop_token_kwargs(self.template), **dict(template_kwargs or {})}
        self._render_json = JsonRenderer(self.template, **self.render_kwargs)
        self.control = ControlTokenTable.from_tokenizer(tokenizer)
        self.segments = SegmentEncoder(tokenizer, self.control, cache_tokens=cache_tokens)
        self.every_row_by_turns = choice.own
        self.turns = self._turn_encoder(choice, tokenizer, template_kwargs, stop_tokens)

    # -- public ------------------------------------------------------------------------------------------------
    def encode_rows(self, rows: Sequence[Any], *, plain_json: bool = False,
                    messages_screened: Sequence[bool] | None = None) -> list[Outcome]:
        """One outcome per row, in order.

        ``plain_json``: the rows are known to hold only plain JSON values (decoded from JSON text), which skips
        checking it before the fast render path. ``messages_screened[i]``: row ``i``'s messages are proven free of
        control-token strings (``ControlTokenTable.absent_from_json`` on their JSON text), so only its tools are
        searched.
        """
        screened = messages_screened or [False] * len(rows)
        outcomes: list[Outcome] = []
        with gc_paused():
            for start in range(0, len(rows), GC_PAUSE_ROWS):
                if start:
                    collect_young_garbage()  # rendering leaves cyclic garbage: reclaim each group's
                outcomes += self._encode_rows(rows[start:start + GC_PAUSE_ROWS], plain_json,
                                              screened[start:start + GC_PAUSE_ROWS])
        return outcomes

    @property
    def stop_tokens(self) -> tuple[str, ...]:
        """The tokens that end a trained turn."""
        return self.turns.template.stop_tokens if self.turns else self.template.stop_tokens

    @property
    def own_sources(self) -> tuple[str, ...]:
        """The template texts the general path renders (with and without tools); empty without it."""
        return self.turns.template.sources if self.turns else ()

    def _turn_encoder(self, choice: Any, tokenizer: Any, template_kwargs: Mapping[str, Any] | None,
                      stop_tokens: Sequence[str] | None) -> TurnEncoder | None:
        """The general path's encoder: for every row with the tokenizer's own template; with a shipped template,
        for the rows that need it (None, logged, if the template's probes fail: its rows keep the fast path)."""
        try:
            own = OwnTemplate(tokenizer, None if choice.own else self.template, template_kwargs=template_kwargs,
                              stop_tokens=stop_tokens if stop_tokens is not None or choice.own
                              else self.template.stop_tokens)
        except TemplateRefused as exc:
            if not choice.own:
                logger.warning("template %r: no turn-by-turn path (%s); its rows take the fast path only",
                               self.template.name, exc)
                return None
            raise TemplateRefused(f"{exc} (the tokenizer's own chat template, used because {choice.why})") from None
        return TurnEncoder(own, self.segments, last_only=self.train_on == "last_assistant", history=self.history,
                           max_length=self.max_length, truncation=self.truncation)

    def _by_turns(self) -> bool:
        """Whether rows take the general path: with an own template, and with a shipped template that rewrites
        history (its generation prompt may not even be where a turn starts: Qwen3.5's no-think prompt closes an empty
        think block that a turn with reasoning does not have). Other shipped templates render every turn in history
        as at inference, and their generation prompt is by construction where each generation block starts."""
        return self.every_row_by_turns or (self.turns is not None and bool(self.template.rewrites_history))

    def _encode_rows(self, rows: Sequence[Any], plain_json: bool, screened: Sequence[bool]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(rows)
        prepared: list[_Prepared] = []
        by_turns: list[_Prepared] = []
        by_turns_only = self._by_turns()
        for index, row in enumerate(rows):
            outcome, item = self._prepare(index, row, plain_json, screened[index])
            if item is None:
                outcomes[index] = outcome
                continue
            if by_turns_only:
                by_turns.append(item)
                outcomes[index] = outcome
                continue
            try:
                item.text, item.spans = self._render(item.messages, item.tools, item.plain)
            except Exception as exc:  # noqa: BLE001 - any template failure drops the row, with its message
                outcome.drop_reason, outcome.detail = "template_error", describe(exc)
                outcomes[index] = outcome
                continue
            prepared.append(item)
            outcomes[index] = outcome
        encoded = self.segments.encode([p.text for p in prepared],
                                       [with_edge_probes(p.spans, len(p.text)) for p in prepared],
                                       [p.escaped for p in prepared])
        for item, (ids, ranges) in zip(prepared, encoded):
            if self.turns is not None and crosses_edges(ranges, len(item.spans)):
                by_turns.append(item)  # a token crosses a prompt / generation edge: assembled turn by turn
                continue
            self._finish(outcomes[item.index], item,  # type: ignore[arg-type]
                         self._labelled(ids, ranges[:len(item.spans)]))
        if by_turns:
            assert self.turns is not None
            self.turns.encode([(p.messages, p.tools, p.escaped, p.plain) for p in by_turns],
                              [outcomes[p.index] for p in by_turns])  # type: ignore[misc]
        return outcomes  # type: ignore[return-value]

    def encode_row(self, row: Any) -> Outcome:
        return self.encode_rows([row])[0]

    # -- steps -------------------------------------------------------------------------------------------------
    def _prepare(self, index: int, row: Any, plain_json: bool, screened: bool) -> tuple[Outcome, _Prepared | None]:
        outcome = Outcome()
        try:
            messages, tools = conversation_of(row)
        except InvalidRecord as exc:
            outcome.drop_reason, outcome.detail = "invalid_row", exc.reason
            return outcome, None
        plain = plain_json or (is_plain_json(messages) and is_plain_json(tools))
        outcome.control_tokens = self.control.find(tools if screened else [messages, tools])
        if not outcome.control_tokens:
            return outcome, _Prepared(index, messages, tools, plain)
        if self.control_policy == "reject":
            outcome.drop_reason = "control_token"
            outcome.detail = "literal control tokens in the data: " + ", ".join(sorted(set(outcome.control_tokens)))
            return outcome, None
        if not self.segments.split_exact:
            outcome.drop_reason = "escape_failed"
            outcome.detail = "this tokenizer's added tokens do not split its input exactly; cannot escape"
            return outcome, None
        try:
            messages, tools = self.control.hide(messages), self.control.hide(tools)
        except InvalidRecord as exc:
            outcome.drop_reason, outcome.detail = "escape_failed", exc.reason
            return outcome, None
        outcome.escaped = True
        return outcome, _Prepared(index, messages, tools, plain, escaped=True)

    def _render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                plain: bool) -> tuple[str, list]:
        if plain:
            return self._render_json(messages, tools)
        return render(self.template, messages, tools, **self.render_kwargs)

    def _finish(self, outcome: Outcome, item: _Prepared, conversation: EncodedConversation) -> None:
        fitted = fit(conversation, self.max_length, self.truncation, item.messages,
                     lambda messages: self._reencode(messages, item.tools, item.plain, item.escaped))
        outcome.truncated = fitted.truncated
        if fitted.conversation is None:
            outcome.drop_reason, outcome.detail = fitted.drop_reason, fitted.detail
            return
        outcome.input_ids = fitted.conversation.input_ids
        outcome.labels = fitted.conversation.labels
        outcome.history = "exact"

    def _reencode(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, plain: bool,
                  escaped: bool) -> EncodedConversation | None:
        """Render and encode a shortened conversation (truncation by whole turns); None if it cannot be rendered."""
        try:
            text, spans = self._render(messages, tools, plain)
        except Exception:  # noqa: BLE001 - a shortened conversation the template rejects is not a candidate
            return None
        ids, ranges = self.segments.encode([text], [with_edge_probes(spans, len(text))], [escaped])[0]
        if crosses_edges(ranges, len(spans)):
            return None
        return self._labelled(ids, ranges[:len(spans)])

    def _labelled(self, ids: np.ndarray, ranges: list[tuple[int, int]]) -> EncodedConversation:
        """Labels from the token ranges of the generation blocks (empty blocks are skipped)."""
        ranges = [r for r in ranges if r[1] > r[0]]
        trained = ranges[-1:] if self.train_on == "last_assistant" else ranges
        labels = np.full(len(ids), IGNORE_INDEX, dtype=np.int32)
        for start, end in trained:
            labels[start:end] = ids[start:end]
        return EncodedConversation(ids, labels, [end for _, end in ranges])


# -- helpers -------------------------------------------------------------------------------------------------------
def conversation_of(row: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """``(messages, tools or None)`` of a canonical row; ``InvalidRecord`` naming what is wrong otherwise."""
    if not isinstance(row, Mapping):
        raise InvalidRecord(f"a row must be a mapping with 'messages', got {type(row).__name__}")
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRecord("row has no non-empty 'messages' list")
    for position, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise InvalidRecord(f"message {position} is not an object with a string 'role'")
    if any(None in message.values() for message in messages):  # as apply_chat_template does
        messages = [{k: v for k, v in message.items() if v is not None} for message in messages]
    tools = row.get("tools") or None
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, Mapping) for t in tools)):
        raise InvalidRecord("'tools' must be a list of tool objects")
    return messages, tools


def stop_token_kwargs(template: ChatTemplate) -> dict[str, Any]:
    """Render argument that appends the stop token after a final assistant turn (GLM-4's next role token)."""
    return {template.stop_token_kwarg: True} if template.stop_token_kwarg else {}
