"""Stop tokens: what ends an assistant turn at inference.

A serving engine stops generating at the tokenizer's ``eos_token`` and at every id of the model's
``generation_config.json`` ``eos_token_id`` (an int or a list: GLM-4 lists ``<|user|>`` and ``<|observation|>``,
gpt-oss ``<|return|>`` and ``<|call|>``, Llama 3.1 ``<|eom_id|>`` and ``<|eot_id|>``). The defaults here are those,
plus the template's own end-of-turn tokens (special tokens that close a rendered assistant turn, found by
``own_template``'s probes), for tokenizers saved without their generation config.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

GENERATION_CONFIG = "generation_config.json"


def special_token_strings(tokenizer: Any) -> set[str]:
    """The added tokens of ``tokenizer`` that are flagged special (``<|im_end|>``, ``<|user|>``, ...)."""
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return {str(token.content) for token in decoder.values() if token.special and token.content}


def configured_stop_tokens(tokenizer: Any) -> list[str]:
    """``eos_token`` and the tokens of the generation config's ``eos_token_id``, in that order, without repeats."""
    tokens: list[str] = []
    eos = getattr(tokenizer, "eos_token", None)
    if isinstance(eos, str) and eos:
        tokens.append(eos)
    for token_id in generation_config_eos_ids(tokenizer):
        token = tokenizer.convert_ids_to_tokens(token_id)
        if isinstance(token, str) and token:
            tokens.append(token)
    return list(dict.fromkeys(tokens))


def generation_config_eos_ids(tokenizer: Any) -> list[int]:
    """``eos_token_id`` of the ``generation_config.json`` next to the tokenizer (a local folder, or a Hub id already
    in the local cache); empty when there is none."""
    path = _generation_config_path(str(getattr(tokenizer, "name_or_path", "") or ""))
    if path is None:
        return []
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
    except (OSError, ValueError, AttributeError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return []
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def _generation_config_path(name_or_path: str) -> Path | None:
    if not name_or_path:
        return None
    local = Path(name_or_path) / GENERATION_CONFIG
    if local.is_file():
        return local
    if Path(name_or_path).exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name_or_path, GENERATION_CONFIG)
    except Exception:  # noqa: BLE001 - not a repo id, or no cache: no generation config
        return None
    return Path(cached) if isinstance(cached, str) else None


def checked_stop_tokens(tokenizer: Any, tokens: Iterable[str]) -> tuple[str, ...]:
    """``tokens`` as a tuple, each a non-empty string; a ValueError naming the bad ones otherwise.

    A stop token is usually one special token (``<|im_end|>``), but any string the model writes last is accepted
    (an agent style's ``Observation:``): its characters are trained as the tokenizer encodes them."""
    if isinstance(tokens, str):
        tokens = [tokens]
    out = tuple(dict.fromkeys(tokens))
    bad = [token for token in out if not isinstance(token, str) or not token]
    if bad or not out:
        raise ValueError(f"stop_tokens must be non-empty strings, got {list(out)!r}")
    unknown = [token for token in out if _is_unknown(tokenizer, token)]
    if unknown:
        logger.info("stop tokens %s are not single tokens of this tokenizer; they are trained as text", unknown)
    return out


def _is_unknown(tokenizer: Any, token: str) -> bool:
    unknown = {None, getattr(tokenizer, "unk_token_id", None)}
    try:
        return tokenizer.convert_tokens_to_ids(token) in unknown
    except (TypeError, ValueError):
        return True

