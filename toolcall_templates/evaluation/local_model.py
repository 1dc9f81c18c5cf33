"""Generation with a local transformers model: greedy decoding from the exact prompt tokens, stopping at the template's
stop tokens.

The prompt text is tokenized as ``apply_chat_template(..., tokenize=True)`` tokenizes it (special tokens in the text
are single tokens, nothing added), so the model sees the ids ``tokenize_dataset`` trained it on. Stop tokens that are
single tokens of the vocabulary end generation by id (``eos_token_id``); any other stop text (an agent style's
``Observation:``) by ``stop_strings``. A batch is left-padded; each sequence is cut after its first stop, and one that
never stops ran into ``max_new_tokens`` (``finish_reason="length"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..tokenization.collator import safe_pad_token_id
from .generation import Generation
from .turns import EvalTurn

DTYPES = ("auto", "bfloat16", "float16", "float32")


class TransformersGenerator:
    """Greedy generation with a ``PreTrainedModel`` and its tokenizer."""

    backend = "transformers"
    renders_prompts = True

    def __init__(self, model: Any, tokenizer: Any, stop_tokens: Sequence[str], *, max_new_tokens: int = 512,
                 batch_size: int = 8, name: str | None = None):
        if max_new_tokens < 1 or batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be positive")
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.name = name or str(getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__)
        self.stop_ids, self.stop_strings = split_stop_tokens(tokenizer, stop_tokens)
        self.pad_id = safe_pad_token_id(tokenizer)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.name, "max_new_tokens": self.max_new_tokens,
                "stop_token_ids": self.stop_ids, "stop_strings": self.stop_strings,
                "device": str(getattr(self.model, "device", "")), "dtype": str(getattr(self.model, "dtype", ""))}

    def generate(self, turns: Sequence[EvalTurn]) -> list[Generation]:
        import torch
        from transformers import GenerationConfig

        prompts = [self.tokenizer(turn.prompt, add_special_tokens=False)["input_ids"] for turn in turns]
        width = max(len(ids) for ids in prompts)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in prompts])
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts])
        config = GenerationConfig(max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1,
                                  eos_token_id=self.stop_ids or None, pad_token_id=self.pad_id,
                                  stop_strings=self.stop_strings or None)
        extra = {"tokenizer": self.tokenizer} if self.stop_strings else {}
        with torch.no_grad():
            output = self.model.generate(input_ids=input_ids.to(self.model.device),
                                         attention_mask=attention.to(self.model.device), generation_config=config,
                                         **extra)
        return [self._generation(row[width:].tolist()) for row in output.cpu()]

    def _generation(self, ids: list[int]) -> Generation:
        """The text through the first stop (a stop token id, or the end of a stop text), or all of it (the limit)."""
        stop_ids = set(self.stop_ids)
        cut = next((i + 1 for i, token in enumerate(ids) if token in stop_ids), None)
        kept = ids if cut is None else ids[:cut]
        text = self._decode(kept)
        ends = [text.find(stop) + len(stop) for stop in self.stop_strings if stop in text]
        if ends:
            return Generation(text=text[:min(ends)], stopped=True, finish_reason="stop", new_tokens=len(kept))
        if cut is not None:
            return Generation(text=text, stopped=True, finish_reason="stop", new_tokens=cut)
        return Generation(text=text, stopped=False, finish_reason="length", new_tokens=len(ids))

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def split_stop_tokens(tokenizer: Any, stop_tokens: Sequence[str]) -> tuple[list[int], list[str]]:
    """``(ids of the stop tokens that are one token of the vocabulary, the other stop texts)``."""
    ids: list[int] = []
    texts: list[str] = []
    unknown = {None, getattr(tokenizer, "unk_token_id", None)}
    for token in stop_tokens:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id not in unknown and tokenizer.encode(token, add_special_tokens=False) == [token_id]:
            ids.append(int(token_id))
        else:
            texts.append(token)
    return list(dict.fromkeys(ids)), texts


def load_model(path: str, *, device: str = "auto", dtype: str = "auto",
               tokenizer: str | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a local folder or Hub id (the tokenizer from ``tokenizer`` or the model's folder),
    on ``device`` (``auto``: CUDA when available, else CPU) in ``dtype``, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    loaded_tokenizer = AutoTokenizer.from_pretrained(tokenizer or path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype if dtype == "auto" else getattr(torch, dtype))
    return model.to(device).eval(), loaded_tokenizer
