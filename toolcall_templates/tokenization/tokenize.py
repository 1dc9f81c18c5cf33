"""Tokenize canonical conversations into ``input_ids`` / ``attention_mask`` / ``labels`` with exact label masks.

``labels`` are unshifted, the Hugging Face convention: ``-100`` where nothing is trained, else the token id. Trained
tokens are exactly what the model generates at inference, for each assistant turn everything after the
generation prompt through the stop token (GLM-4: through the next role token, appended after a final assistant
turn). The ids equal the official template's ``apply_chat_template(..., tokenize=True)`` ids.

A tokenizer whose chat template is not a shipped one is tokenized with its own template as it is (the general path,
:mod:`turn_encoder`), which may give several rows for one conversation (``history="split"``); each carries the
``keep_columns`` of its conversation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import weakref
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidRecord
from ..templates import ChatTemplate
from .conversation_encoder import ConversationEncoder, Outcome
from .gc_pause import gc_paused
from .piece_encoding import NO_IDS
from .raw_rows import RawRows, as_canonical, has_canonical_storage, refusal
from .row_decoding import column_decoder, is_json_list, yields_plain_json
from .tokenize_report import TokenizeReport

logger = logging.getLogger(__name__)

OUTPUT_COLUMNS: tuple[str, ...] = ("input_ids", "attention_mask", "labels")
_STATUS_COLUMNS: tuple[str, ...] = ("_drop_reason", "_detail", "_truncated", "_control_tokens", "_escaped", "_ref",
                                    "_part", "_history", "_turns_left_out", "_reasoning_not_rendered")


def _output_features() -> dict[str, Any]:
    from datasets import List, Value

    return {
        "input_ids": List(Value("int32")),
        "attention_mask": List(Value("int8")),
        "labels": List(Value("int32")),
        "_drop_reason": Value("string"),
        "_detail": Value("string"),
        "_truncated": Value("string"),
        "_control_tokens": List(Value("string")),
        "_escaped": Value("bool"),
        "_ref": Value("string"),
        "_part": Value("int32"),
        "_history": Value("string"),
        "_turns_left_out": List(Value("string")),
        "_reasoning_not_rendered": Value("int32"),
    }


class ConversationDropped(InvalidRecord):
    """``tokenize_conversation`` could not keep the conversation; ``drop_reason`` is the report's reason code."""

    def __init__(self, drop_reason: str, detail: str):
        self.drop_reason = drop_reason
        super().__init__(f"{drop_reason}: {detail}" if detail else drop_reason)


_encoders: dict[tuple, tuple[weakref.ref, ConversationEncoder]] = {}


def get_encoder(tokenizer: Any, template: "str | ChatTemplate | None" = None, **options: Any) -> ConversationEncoder:
    """A cached :class:`ConversationEncoder` for this tokenizer (and its current vocabulary size, so added tokens
    give a new one), template and options."""
    key = (id(tokenizer), len(tokenizer), template if isinstance(template, (str, type(None))) else id(template),
           json.dumps(options, sort_keys=True, default=repr))
    cached = _encoders.get(key)
    if cached is not None and cached[0]() is tokenizer:
        return cached[1]
    encoder = ConversationEncoder(tokenizer, template, **options)
    _encoders[key] = (weakref.ref(tokenizer), encoder)
    return encoder


def tokenize_conversation(
    row: Mapping[str, Any],
    tokenizer: Any,
    template: "str | ChatTemplate | None" = None,
    max_length: int | None = None,
    train_on: str = "assistant",
    *,
    truncation: str = "drop",
    control_tokens: str = "reject",
    template_kwargs: Mapping[str, Any] | None = None,
    stop_tokens: Sequence[str] | None = None,
    history: str = "split",
) -> dict[str, list[int]]:
    """Tokenize one canonical row (``messages`` + ``tools``) into one training row.

    Args:
        template: a shipped template name; ``None`` detects it from the tokenizer, or uses the tokenizer's own chat
            template as it is when it is not a shipped one; ``"own"`` always uses the tokenizer's own.
        stop_tokens: with the tokenizer's own template, the tokens that end a turn (default: the tokenizer's eos
            token(s), its generation config's, and the template's end-of-turn special token).
        history: ``"split"`` or ``"drop"``, for a conversation one row cannot hold exactly (general path); a split
            conversation raises here, and :func:`tokenize_conversation_rows` returns its rows.
        max_length: longest allowed sequence; longer rows follow ``truncation`` (``drop``, ``prefix``,
            ``drop_oldest``, see :mod:`toolcall_templates.tokenization.truncation`).
        train_on: ``"assistant"`` (every assistant turn) or ``"last_assistant"`` (only the final one).
        control_tokens: ``"reject"`` literal control tokens in the text, or ``"escape"`` them (tokenized as text).

    Returns:
        ``{"input_ids", "attention_mask", "labels"}``.

    Raises:
        ConversationDropped: the row is malformed, holds control tokens, fails to render, is too long, or is left
            with no trained token; or it needs several rows (``split_rows``); ``drop_reason`` says which.
    """
    rows = tokenize_conversation_rows(row, tokenizer, template, max_length, train_on, truncation=truncation,
                                      control_tokens=control_tokens, template_kwargs=template_kwargs,
                                      stop_tokens=stop_tokens, history=history)
    if len(rows) > 1:
        raise ConversationDropped("split_rows", f"one row cannot hold this conversation exactly; it gives {len(rows)} "
                                                "rows (tokenize_conversation_rows returns them)")
    return rows[0]


def tokenize_conversation_rows(
    row: Mapping[str, Any],
    tokenizer: Any,
    template: "str | ChatTemplate | None" = None,
    max_length: int | None = None,
    train_on: str = "assistant",
    *,
    truncation: str = "drop",
    control_tokens: str = "reject",
    template_kwargs: Mapping[str, Any] | None = None,
    stop_tokens: Sequence[str] | None = None,
    history: str = "split",
) -> list[dict[str, list[int]]]:
    """``tokenize_conversation``, returning every training row of the conversation: one where one row holds it
    exactly, one per run of turns that chain exactly otherwise (``history="split"``)."""
    encoder = get_encoder(tokenizer, template, max_length=max_length, train_on=train_on, truncation=truncation,
                          control_tokens=control_tokens, template_kwargs=dict(template_kwargs or {}),
                          stop_tokens=None if stop_tokens is None else list(stop_tokens), history=history)
    try:
        row = as_canonical(row)  # a row that is not canonical is normalized first (raw_rows)
    except InvalidRecord as exc:
        raise ConversationDropped("invalid_row", exc.reason) from exc
    outcome = encoder.encode_row(row)
    if outcome.drop_reason is not None:
        raise ConversationDropped(outcome.drop_reason, outcome.detail)
    return [_columns(ids, labels) for ids, labels in _rows_of(outcome)]


def tokenize_dataset(
    dataset: Any,
    tokenizer: Any,
    template: "str | ChatTemplate | None" = None,
    max_length: int | None = None,
    num_proc: int | None = None,
    *,
    train_on: str = "assistant",
    truncation: str = "drop",
    control_tokens: str = "reject",
    pack: bool = False,
    batch_size: int = 256,
    keep_columns: Sequence[str] = (),
    template_kwargs: Mapping[str, Any] | None = None,
    return_report: bool = False,
    desc: str | None = "Tokenizing",
    stop_tokens: Sequence[str] | None = None,
    history: str = "split",
    pack_buffer: int = 1000,
) -> Any:
    """Tokenize a ``datasets.Dataset`` (or a streaming ``IterableDataset``) of canonical rows; dropped rows are
    removed and counted.

    Returns the tokenized dataset (``input_ids``, ``attention_mask``, ``labels`` and any ``keep_columns``; packed
    into ``max_length`` bins with ``position_ids`` when ``pack=True``), or ``(dataset, TokenizeReport)`` with
    ``return_report=True``. Drops are also logged as a warning. ``template``, ``stop_tokens`` and ``history`` are
    as in :func:`tokenize_conversation`; a split conversation gives several rows, each with its ``keep_columns``.

    An ``IterableDataset`` gives a lazy ``IterableDataset`` of the same rows (:mod:`streaming`): nothing is read
    until it is iterated, the report counts the rows as they are consumed, and ``pack=True`` packs ``pack_buffer``
    rows at a time.
    """
    from datasets import Dataset, Features, IterableDataset

    streaming = isinstance(dataset, IterableDataset)
    if not streaming and not isinstance(dataset, Dataset):
        raise TypeError(f"tokenize_dataset needs a datasets.Dataset or IterableDataset, got {type(dataset).__name__}")
    if pack and max_length is None:
        raise ValueError("pack=True needs max_length")
    if streaming:
        from .streaming import streamable

        source, dataset = dataset, streamable(dataset, num_proc=num_proc, pack_buffer=pack_buffer)
    options = dict(max_length=max_length, train_on=train_on, truncation=truncation, control_tokens=control_tokens,
                   template_kwargs=dict(template_kwargs or {}), history=history,
                   stop_tokens=None if stop_tokens is None else list(stop_tokens))
    encoder = ConversationEncoder(tokenizer, template, **options)
    missing = [c for c in keep_columns if c not in dataset.column_names]
    if missing:
        raise ValueError(f"keep_columns not in the dataset: {missing}")
    raw = None if has_canonical_storage(dataset.features) else RawRows(dataset.features)  # normalized on the fly
    needed = [c for c in dict.fromkeys(["id", "messages", "tools", *keep_columns]) if c in dataset.column_names]
    if raw is not None:
        needed = list(dataset.column_names)
        options = {**options, "normalize_code": raw.code_version()}  # the map's cache key covers the normalizers
    features = Features({**{c: dataset.features[c] for c in keep_columns}, **_output_features()})
    map_batch = _MapBatch(encoder, {c: dataset.features[c] for c in needed}, tuple(keep_columns), raw)
    if streaming:
        from .streaming import tokenize_stream

        report = TokenizeReport(template=encoder.template.name, stop_tokens=list(encoder.stop_tokens))
        stream = tokenize_stream(dataset, map_batch, report, input_columns=needed, batch_size=batch_size,
                                 features={c: features[c] for c in [*keep_columns, *OUTPUT_COLUMNS]},
                                 pack_length=max_length if pack else None, pack_buffer=pack_buffer, source=source)
        return (stream, report) if return_report else stream
    mapped = dataset.with_format("arrow").map(
        map_batch,
        input_columns=needed,  # only these are read; JSON is decoded exactly (row_decoding), not by datasets
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=dataset.column_names,
        features=features,
        new_fingerprint=_fingerprint(dataset, tokenizer, encoder, options, keep_columns),
        desc=desc,
    ).with_format(None)
    report = _report(mapped)
    report.template, report.stop_tokens = encoder.template.name, list(encoder.stop_tokens)
    if raw is not None and (refused := refusal(report)):
        raise ValueError(f"tokenize_dataset: {refused}")
    kept = _drop_rows(mapped)
    if report.rows_dropped:
        logger.warning("tokenize_dataset: %s", report.summary())
    if pack:
        from .packing import pack_dataset

        kept, stats = pack_dataset(kept, max_length, return_stats=True)
        report.packing = stats.report()
    return (kept, report) if return_report else kept


# -- internals ---------------------------------------------------------------------------------------------------
class _MapBatch:
    """The ``datasets.map`` function: Arrow columns of canonical rows in, an Arrow table of tokens and statuses out."""

    def __init__(self, encoder: ConversationEncoder, features: dict[str, Any], keep_columns: tuple[str, ...],
                 raw: RawRows | None = None):
        self.encoder = encoder
        self.raw = raw
        self.columns = list(features)
        self.keep_columns = keep_columns
        self.features = features
        self.plain_json = all(yields_plain_json(features[name]) for name in ("messages", "tools") if name in features)
        self.messages_as_json_texts = is_json_list(features.get("messages"))

    def __call__(self, *columns: Any) -> Any:
        with gc_paused():
            if self.raw is not None:
                rows, outcomes = self.raw.encode(self.encoder, dict(zip(self.columns, columns)))
                return self._table(dict(zip(self.columns, columns)), rows, outcomes)
            rows, screened = self._rows(*columns)
            outcomes = self.encoder.encode_rows(rows, plain_json=self.plain_json, messages_screened=screened)
            return self._table(dict(zip(self.columns, columns)), rows, outcomes)

    def _rows(self, *columns: Any) -> tuple[list[dict[str, Any]], list[bool] | None]:
        """The batch's canonical rows, decoded exactly, and per row whether its stored messages are proven free of
        control tokens (None when they are not stored as JSON texts)."""
        batch = dict(zip(self.columns, columns))
        decoded, screened = {}, None
        for name in ("id", "messages", "tools"):
            if name in batch:
                decode = column_decoder(self.features[name], drop_none_keys=name == "messages")
                values = batch[name].to_pylist()
                decoded[name] = [decode(value) for value in values]
                if name == "messages" and self.messages_as_json_texts:
                    screened = [value is not None and self.encoder.control.absent_from_json(value) for value in values]
        return [dict(zip(decoded, values)) for values in zip(*decoded.values())], screened

    def _table(self, batch: dict[str, Any], rows: list[dict[str, Any]], outcomes: list[Outcome]) -> Any:
        """The output Arrow table: kept columns, ids, labels and each row's status."""
        import pyarrow as pa

        owners, parts, ids, labels = [], [], [], []
        for k, outcome in enumerate(outcomes):
            for part, (row_ids, row_labels) in enumerate(_rows_of(outcome)):
                owners.append(k)
                parts.append(part)
                ids.append(row_ids)
                labels.append(row_labels)
        input_ids, offsets = _int32_lists(ids)
        label_lists, _ = _int32_lists(labels)
        take = pa.array(owners, pa.int32()) if len(owners) != len(outcomes) else None  # a split conversation's rows

        def per_row(values: list[Any], kind: Any) -> Any:
            array = pa.array(values, kind)
            return array if take is None else array.take(take)

        out = {name: batch[name] if take is None else batch[name].take(take) for name in self.keep_columns}
        out.update(
            input_ids=input_ids,
            attention_mask=pa.ListArray.from_arrays(offsets, pa.array(np.ones(offsets[-1].as_py(), dtype=np.int8))),
            labels=label_lists,
            _drop_reason=per_row([o.drop_reason for o in outcomes], pa.string()),
            _detail=per_row([o.detail or None for o in outcomes], pa.string()),
            _truncated=per_row([o.truncated for o in outcomes], pa.string()),
            _control_tokens=per_row([o.control_tokens for o in outcomes], pa.list_(pa.string())),
            _escaped=per_row([o.escaped for o in outcomes], pa.bool_()),
            _ref=per_row([_row_ref(row) for row in rows], pa.string()),
            _part=pa.array(parts, pa.int32()),
            _history=per_row([o.history for o in outcomes], pa.string()),
            _turns_left_out=per_row([o.turns_left_out for o in outcomes], pa.list_(pa.string())),
            _reasoning_not_rendered=per_row([o.reasoning_not_rendered for o in outcomes], pa.int32()),
        )
        return pa.table(out)


def _int32_lists(arrays: list[np.ndarray]) -> tuple[Any, Any]:
    """An Arrow ``list<int32>`` array of ``int32`` arrays, and its offsets (one copy, no per-token conversion)."""
    import pyarrow as pa

    offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays)), out=offsets[1:])
    flat = np.concatenate(arrays).astype(np.int32, copy=False) if arrays else NO_IDS
    arrow_offsets = pa.array(offsets)
    return pa.ListArray.from_arrays(arrow_offsets, pa.array(flat)), arrow_offsets


def _rows_of(outcome: Outcome) -> list[tuple[np.ndarray, np.ndarray]]:
    """An outcome's training rows (a dropped row: one empty placeholder, removed with its status)."""
    if outcome.drop_reason is not None or outcome.input_ids is None or outcome.labels is None:
        return [(NO_IDS, NO_IDS)]
    return [(outcome.input_ids, outcome.labels), *outcome.extra_rows]


def _columns(ids: np.ndarray, labels: np.ndarray) -> dict[str, list[int]]:
    ids_list = ids.tolist()
    return {"input_ids": ids_list, "attention_mask": [1] * len(ids_list), "labels": labels.tolist()}


def _row_ref(row: Any) -> str | None:
    if isinstance(row, Mapping) and row.get("id") is not None:
        return str(row["id"])
    return None


def _report(mapped: Any) -> TokenizeReport:
    """Aggregate the status columns (Arrow-side for the token counts)."""
    return count_statuses(TokenizeReport(), mapped.with_format("arrow")[:])


def count_statuses(report: TokenizeReport, table: Any, first_row: int = 0) -> TokenizeReport:
    """Count the rows of a table of :class:`_MapBatch` output (status columns included) into ``report``; a row
    without an id is named by its position, ``first_row`` for the table's first."""
    import pyarrow.compute as pc

    columns = {c: table.column(c).to_pylist() for c in _STATUS_COLUMNS}
    lengths = pc.list_value_length(table.column("input_ids")).to_pylist()
    labels = table.column("labels")
    for i in range(table.num_rows):
        report.add_row(ref=columns["_ref"][i] or f"row {first_row + i}", drop_reason=columns["_drop_reason"][i],
                       detail=columns["_detail"][i] or "", truncated=columns["_truncated"][i],
                       control_tokens=columns["_control_tokens"][i], escaped=bool(columns["_escaped"][i]),
                       tokens=lengths[i] or 0, part=columns["_part"][i] or 0, history=columns["_history"][i],
                       turns_left_out=columns["_turns_left_out"][i] or (),
                       reasoning_not_rendered=columns["_reasoning_not_rendered"][i] or 0)
    flat = pc.list_flatten(labels)
    report.trained_tokens += int(pc.sum(pc.not_equal(flat, -100)).as_py() or 0) if len(flat) else 0
    return report


def _drop_rows(mapped: Any) -> Any:
    import pyarrow.compute as pc

    reasons = mapped.with_format("arrow")["_drop_reason"]
    keep = pc.is_null(reasons)
    if not pc.all(keep).as_py():
        indices = [i for i, k in enumerate(keep.to_pylist()) if k]
        mapped = mapped.select(indices).flatten_indices()
    return mapped.remove_columns(list(_STATUS_COLUMNS))


def _fingerprint(dataset: Any, tokenizer: Any, encoder: ConversationEncoder, options: dict[str, Any],
                 keep_columns: Sequence[str]) -> str:
    """Cache key of the map: input data, tokenizer, template text and options (never the encoder's cache)."""
    payload = json.dumps({
        "data": getattr(dataset, "_fingerprint", None),
        "tokenizer": _tokenizer_digest(tokenizer),
        "template": hashlib.sha256(encoder.template.source.encode()).hexdigest(),
        "render": encoder.render_kwargs,
        "stop_tokens": list(encoder.stop_tokens),
        "own_sources": [hashlib.sha256(source.encode()).hexdigest() for source in encoder.own_sources],
        "options": options,
        "keep": list(keep_columns),
        "code": _code_version(),
    }, sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


_digests: "weakref.WeakKeyDictionary[Any, tuple[int, str]]" = weakref.WeakKeyDictionary()


def _tokenizer_digest(tokenizer: Any) -> str:
    """Hash of the tokenizer's full definition, computed once per tokenizer object (and again if tokens are added)."""
    size = len(tokenizer)
    cached = _digests.get(tokenizer)
    if cached is None or cached[0] != size:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        text = backend.to_str() if backend is not None else repr(tokenizer)
        cached = (size, hashlib.sha256(text.encode()).hexdigest())
        _digests[tokenizer] = cached
    return cached[1]


@lru_cache(maxsize=1)
def _code_version() -> str:
    """Hash of the modules that shape the output, so a changed implementation never reuses a stale cache."""
    from .. import __version__, render_environment, templates
    from . import control_tokens, conversation_encoder, piece_encoding, row_decoding
    from . import segment_encoder, truncation
    from . import own_template, stop_tokens, template_choice, turn_encoder, turn_rows, turn_texts

    digest = hashlib.sha256(__version__.encode())
    modules = (control_tokens, conversation_encoder, piece_encoding, render_environment, row_decoding,
               segment_encoder, templates, truncation, own_template, stop_tokens, template_choice, turn_encoder,
               turn_rows, turn_texts)
    for module in (*modules, sys.modules[__name__]):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]
