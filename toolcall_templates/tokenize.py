"""Tokenize canonical conversations into ``input_ids`` / ``attention_mask`` / ``labels`` with exact label masks.

``labels`` are unshifted, the Hugging Face convention: ``-100`` where nothing is trained, else the token id. Trained
tokens are exactly what the model generates at inference, for each assistant turn everything after the
generation prompt through the stop token (GLM-4: through the next role token, appended after a final assistant
turn). The ids equal the official template's ``apply_chat_template(..., tokenize=True)`` ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from .conversation_encoder import ConversationEncoder, Outcome
from .errors import InvalidRecord
from .templates import ChatTemplate
from .tokenize_report import TokenizeReport

logger = logging.getLogger(__name__)

OUTPUT_COLUMNS: tuple[str, ...] = ("input_ids", "attention_mask", "labels")
_STATUS_COLUMNS: tuple[str, ...] = ("_drop_reason", "_detail", "_truncated", "_control_tokens", "_escaped", "_ref")


class ConversationDropped(InvalidRecord):
    """``tokenize_conversation`` could not keep the conversation; ``drop_reason`` is the report's reason code."""

    def __init__(self, drop_reason: str, detail: str):
        self.drop_reason = drop_reason
        super().__init__(f"{drop_reason}: {detail}" if detail else drop_reason)


_encoders: dict[tuple, tuple[weakref.ref, ConversationEncoder]] = {}


def get_encoder(tokenizer: Any, template: "str | ChatTemplate | None" = None, **options: Any) -> ConversationEncoder:
    """A cached :class:`ConversationEncoder` for this tokenizer, template and options."""
    key = (id(tokenizer), template if isinstance(template, (str, type(None))) else id(template),
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
) -> dict[str, list[int]]:
    """Tokenize one canonical row (``messages`` + ``tools``).

    Args:
        template: a shipped template name; ``None`` detects it from the tokenizer.
        max_length: longest allowed sequence; longer rows follow ``truncation`` (``drop``, ``prefix``,
            ``drop_oldest``, see :mod:`toolcall_templates.truncation`).
        train_on: ``"assistant"`` (every assistant turn) or ``"last_assistant"`` (only the final one).
        control_tokens: ``"reject"`` literal control tokens in the text, or ``"escape"`` them (tokenized as text).

    Returns:
        ``{"input_ids", "attention_mask", "labels"}``.

    Raises:
        ConversationDropped: the row is malformed, holds control tokens, fails to render, is too long, or is left
            with no trained token; ``drop_reason`` says which.
    """
    encoder = get_encoder(tokenizer, template, max_length=max_length, train_on=train_on, truncation=truncation,
                          control_tokens=control_tokens, template_kwargs=dict(template_kwargs or {}))
    outcome = encoder.encode_row(row)
    if outcome.drop_reason is not None:
        raise ConversationDropped(outcome.drop_reason, outcome.detail)
    return _columns(outcome)


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
) -> Any:
    """Tokenize a ``datasets.Dataset`` of canonical rows; dropped rows are removed and counted.

    Returns the tokenized dataset (``input_ids``, ``attention_mask``, ``labels`` and any ``keep_columns``; packed
    into ``max_length`` bins with ``position_ids`` when ``pack=True``), or ``(dataset, TokenizeReport)`` with
    ``return_report=True``. Drops are also logged as a warning.
    """
    from datasets import Features, List, Value

    if pack and max_length is None:
        raise ValueError("pack=True needs max_length")
    options = dict(max_length=max_length, train_on=train_on, truncation=truncation, control_tokens=control_tokens,
                   template_kwargs=dict(template_kwargs or {}))
    encoder = ConversationEncoder(tokenizer, template, **options)
    missing = [c for c in keep_columns if c not in dataset.column_names]
    if missing:
        raise ValueError(f"keep_columns not in the dataset: {missing}")
    features = Features({
        **{c: dataset.features[c] for c in keep_columns},
        "input_ids": List(Value("int32")),
        "attention_mask": List(Value("int8")),
        "labels": List(Value("int32")),
        "_drop_reason": Value("string"),
        "_detail": Value("string"),
        "_truncated": Value("string"),
        "_control_tokens": List(Value("string")),
        "_escaped": Value("bool"),
        "_ref": Value("string"),
    })
    mapped = dataset.map(
        _MapBatch(encoder, tuple(keep_columns)),
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=dataset.column_names,
        features=features,
        new_fingerprint=_fingerprint(dataset, tokenizer, encoder, options, keep_columns),
        desc=desc,
    )
    report = _report(mapped)
    kept = _drop_rows(mapped)
    if report.rows_dropped:
        logger.warning("tokenize_dataset: %s", report.summary())
    if pack:
        from .packing import pack_dataset

        kept = pack_dataset(kept, max_length)
    return (kept, report) if return_report else kept


# -- internals ---------------------------------------------------------------------------------------------------
class _MapBatch:
    """The ``datasets.map`` function: batch of canonical rows in, token columns plus status columns out."""

    def __init__(self, encoder: ConversationEncoder, keep_columns: tuple[str, ...]):
        self.encoder = encoder
        self.keep_columns = keep_columns

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        size = len(next(iter(batch.values()))) if batch else 0
        rows = [{key: values[i] for key, values in batch.items()} for i in range(size)]
        outcomes = self.encoder.encode_rows(rows)
        out: dict[str, list[Any]] = {c: list(batch[c]) for c in self.keep_columns}
        out.update({c: [] for c in (*OUTPUT_COLUMNS, *_STATUS_COLUMNS)})
        for row, outcome in zip(rows, outcomes):
            kept = outcome.drop_reason is None
            out["input_ids"].append(outcome.input_ids if kept else [])
            out["attention_mask"].append([1] * len(outcome.input_ids) if kept else [])
            out["labels"].append(outcome.labels if kept else [])
            out["_drop_reason"].append(outcome.drop_reason)
            out["_detail"].append(outcome.detail or None)
            out["_truncated"].append(outcome.truncated)
            out["_control_tokens"].append(outcome.control_tokens)
            out["_escaped"].append(outcome.escaped)
            out["_ref"].append(_row_ref(row))
        return out


def _columns(outcome: Outcome) -> dict[str, list[int]]:
    ids = outcome.input_ids or []
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": outcome.labels or []}


def _row_ref(row: Any) -> str | None:
    if isinstance(row, Mapping) and row.get("id") is not None:
        return str(row["id"])
    return None


def _report(mapped: Any) -> TokenizeReport:
    """Aggregate the status columns (Arrow-side for the token counts)."""
    import pyarrow.compute as pc

    table = mapped.with_format("arrow")[:]
    report = TokenizeReport()
    columns = {c: table.column(c).to_pylist() for c in _STATUS_COLUMNS}
    lengths = pc.list_value_length(table.column("input_ids")).to_pylist()
    labels = table.column("labels")
    for i in range(table.num_rows):
        report.add_row(ref=columns["_ref"][i] or f"row {i}", drop_reason=columns["_drop_reason"][i],
                       detail=columns["_detail"][i] or "", truncated=columns["_truncated"][i],
                       control_tokens=columns["_control_tokens"][i], escaped=bool(columns["_escaped"][i]),
                       tokens=lengths[i] or 0)
    flat = pc.list_flatten(labels)
    report.trained_tokens = int(pc.sum(pc.not_equal(flat, -100)).as_py() or 0) if len(flat) else 0
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
    backend = getattr(tokenizer, "backend_tokenizer", None)
    payload = json.dumps({
        "data": getattr(dataset, "_fingerprint", None),
        "tokenizer": hashlib.sha256(backend.to_str().encode()).hexdigest() if backend is not None else repr(tokenizer),
        "template": hashlib.sha256(encoder.template.source.encode()).hexdigest(),
        "render": encoder.render_kwargs,
        "options": options,
        "keep": list(keep_columns),
        "version": 1,
    }, sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]
