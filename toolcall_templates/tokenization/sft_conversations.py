"""Built rows for TRL's ``SFTTrainer(assistant_only_loss=True)``, training the labels ``tokenize_dataset`` gives.

With ``assistant_only_loss=True``, ``SFTTrainer`` renders each row with the tokenizer's chat template,
``apply_chat_template(messages, tools=row["tools"], return_assistant_tokens_mask=True, **row["chat_template_kwargs"])``,
and trains the tokens of its ``{% generation %}`` blocks. With a shipped template installed
(``apply_tool_template``) those blocks are what the model generates, provided the template gets the render arguments
``tokenize_dataset`` passes: GLM-4's ``add_stop_token`` (else the stop token after a final assistant turn is not
trained) and the sidecar's defaults (Llama 3.2's ``date_string``, else the system prompt holds today's date).
:func:`sft_conversations` adds them as the ``chat_template_kwargs`` column TRL reads.

What stays different from ``tokenize_dataset`` (TRL tokenizes each conversation's whole text at once):

* a template that renders history differently from what the model saw (``rewrites_history``: Qwen3, Qwen3.5+,
  GLM-4.5) cannot be trained one row per conversation exactly; it is refused here, and ``tokenize_dataset`` splits
  such conversations into exact rows;
* a token of the whole text that crosses a turn's edge (an assistant text that starts with a newline after Qwen's
  ``<|im_start|>assistant\\n`` merges into one ``\\n\\n`` token): TRL trains that merged token, ``tokenize_dataset``
  the tokens the model saw;
* rows ``tokenize_dataset`` drops (literal control tokens, longer than ``max_length``: TRL truncates them, which can
  cut a tool call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..templates import ChatTemplate, get_template, list_templates
from .conversation_encoder import stop_token_kwargs
from .raw_rows import has_canonical_storage

KWARGS_COLUMN = "chat_template_kwargs"


def sft_conversations(dataset: Any, tokenizer: Any, *, template_kwargs: Mapping[str, Any] | None = None) -> Any:
    """``dataset`` (canonical rows: ``load_unified``, a ``Dataset`` or ``IterableDataset``) with a
    ``chat_template_kwargs`` column holding the render arguments of the shipped template installed on
    ``tokenizer``, for ``SFTTrainer(..., args=SFTConfig(assistant_only_loss=True))``.

    ``template_kwargs`` are added to every row (as ``tokenize_dataset(template_kwargs=...)``). ``ValueError`` when the
    tokenizer's chat template is not a shipped one, when it rewrites history, or when the rows are not canonical.
    """
    template = installed_template(tokenizer)
    if template.rewrites_history:
        raise ValueError(
            f"template {template.name!r} renders earlier turns differently from what the model saw "
            f"({template.rewrites_history}); SFTTrainer renders each conversation once and would train them as "
            "history renders them. Tokenize with tokenize_dataset (which splits such conversations into exact rows) "
            "and pass the tokenized rows to SFTTrainer")
    features = dataset.features or {}
    if "messages" not in features:
        raise ValueError(f"sft_conversations needs canonical rows with a 'messages' column; got {list(features)}")
    if not has_canonical_storage(features):
        raise ValueError("the rows are not canonical (messages stored as JSON values, as toolcall build writes them); "
                         "build them first (toolcall build, then load_unified), or tokenize them with "
                         "tokenize_dataset, which normalizes them on the fly")
    if KWARGS_COLUMN in features:
        raise ValueError(f"the dataset already has a {KWARGS_COLUMN!r} column")
    kwargs = render_kwargs(template, tokenizer, template_kwargs)
    if not kwargs:
        return dataset
    return _with_constant_column(dataset, KWARGS_COLUMN, kwargs)


def installed_template(tokenizer: Any) -> ChatTemplate:
    """The shipped template whose text is the tokenizer's chat template (``apply_tool_template`` installed it)."""
    source = getattr(tokenizer, "chat_template", None)
    for name in list_templates():
        template = get_template(name)
        if template.source == source:
            return template
    raise ValueError("the tokenizer's chat template is not a shipped template: install one with "
                     "apply_tool_template(tokenizer, NAME) so that assistant_only_loss trains its generation blocks, "
                     "or tokenize with tokenize_dataset (any template, the tokenizer's own included) and pass the "
                     "tokenized rows to SFTTrainer")


def render_kwargs(template: ChatTemplate, tokenizer: Any, template_kwargs: Mapping[str, Any] | None = None,
                  ) -> dict[str, Any]:
    """The render arguments ``tokenize_dataset`` renders ``template`` with, less the special tokens
    ``apply_chat_template`` passes itself."""
    provided = set(getattr(tokenizer, "special_tokens_map", {}) or {})
    defaults = {key: value for key, value in template.default_kwargs.items() if key not in provided}
    return {**defaults, **stop_token_kwargs(template), **dict(template_kwargs or {})}


def _with_constant_column(dataset: Any, name: str, value: dict[str, Any]) -> Any:
    """``dataset`` with a column holding ``value`` in every row (lazily for a streaming dataset)."""
    from datasets import Dataset, Features

    if isinstance(dataset, Dataset):
        return dataset.add_column(name, [value] * len(dataset))
    feature = Dataset.from_list([{name: value}]).features[name]
    return dataset.map(_Constant(name, value), features=Features({**dataset.features, name: feature}))


class _Constant:
    """The map function adding one constant column (a class, so that the map can be pickled)."""

    def __init__(self, name: str, value: dict[str, Any]):
        self.name = name
        self.value = value

    def __call__(self, _row: Any) -> dict[str, Any]:
        return {self.name: self.value}
