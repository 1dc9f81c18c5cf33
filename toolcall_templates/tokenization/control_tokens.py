"""Literal control-token strings inside conversation data: detection, and the ``reject`` / ``escape`` policies.

A user who types ``<|im_end|>`` must not end their own turn: the tokenizer would turn those characters into the
real control token, and the model would learn from a conversation that is not the one in the data. Every string of
a row (message fields, tool-call arguments, tool definitions) is checked for the tokenizer's added tokens.

* ``reject`` (default): the row is dropped and counted, with the tokens found.
* ``escape``: the characters are kept byte for byte but tokenized as ordinary text. Each literal is swapped for a
  private-use sentinel character before rendering; after rendering, the template's own control tokens split the
  text as usual and the sentinels are turned back into the literal characters, which are then encoded with the
  tokenizer's normalizer, pre-tokenizer and model only (:func:`encode_as_text`), never its added-token matcher.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRecord

CONTROL_TOKEN_POLICIES: tuple[str, ...] = ("reject", "escape")

_SENTINEL_BASE = 0x100000
"""First code point of Unicode's Supplementary Private Use Area-B: sentinels are taken from there."""
_SENTINEL_LIMIT = 0x10FFFE


@dataclass(frozen=True)
class ControlTokenTable:
    """The added-token strings of one tokenizer and the machinery to find, hide and restore them."""

    strings: tuple[str, ...]
    """Every added token (special or not), longest first."""
    pattern: re.Pattern[str] | None = None
    """Alternation of ``strings`` (leftmost-longest, as the tokenizer matches them); None when there are none."""
    sentinel_of: dict[str, str] = field(default_factory=dict)
    literal_of: dict[str, str] = field(default_factory=dict)
    sentinel_pattern: re.Pattern[str] = re.compile("[\U00100000-\U0010fffd]")
    json_visible: bool = True
    """Whether every token survives ``json.dumps`` unchanged, so one search of the dumped value can rule rows out."""
    hiding_escape: re.Pattern[str] | None = None
    """JSON escape sequences that could spell a character of some token (``\\/``, ``\\u003c``, ...)."""

    @classmethod
    def from_strings(cls, strings: "list[str] | tuple[str, ...]") -> "ControlTokenTable":
        ordered = tuple(sorted({s for s in strings if s}, key=lambda s: (-len(s), s)))
        if len(ordered) > _SENTINEL_LIMIT - _SENTINEL_BASE:
            raise ValueError(f"too many added tokens ({len(ordered)}) to escape")
        pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        sentinel_of = {s: chr(_SENTINEL_BASE + k) for k, s in enumerate(ordered)}
        return cls(
            strings=ordered,
            pattern=pattern,
            sentinel_of=sentinel_of,
            literal_of={v: k for k, v in sentinel_of.items()},
            json_visible=all(json.dumps(s, ensure_ascii=False)[1:-1] == s for s in ordered),
            hiding_escape=_hiding_escape(ordered),
        )

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> "ControlTokenTable":
        """The control tokens of a transformers tokenizer: see :func:`is_control_token`."""
        decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
        return cls.from_strings([str(t.content) for t in decoder.values() if is_control_token(t)])

    # -- detection ---------------------------------------------------------------------------------------------
    def find(self, value: Any) -> list[str]:
        """Control-token strings occurring anywhere in ``value`` (nested dicts / lists: keys and values)."""
        if self.pattern is None:
            return []
        if self.json_visible:
            try:
                if not self.pattern.search(json.dumps(value, ensure_ascii=False)):
                    return []
            except (TypeError, ValueError):
                pass
        shortest = len(self.strings[-1])
        found: list[str] = []
        for text in iter_strings(value):
            if len(text) >= shortest:
                found.extend(self.pattern.findall(text))
        return found

    def absent_from_json(self, json_texts: "list[str] | tuple[str, ...]") -> bool:
        """Whether the values these JSON texts decode to provably hold no control-token string (keys included).

        True when no token occurs in the texts and no escape sequence in them could spell one of a token's
        characters: JSON spells every other character as itself. False means "not ruled out" (use ``find``).
        """
        if self.pattern is None:
            return True
        if not self.json_visible:
            return False
        search, hiding = self.pattern.search, self.hiding_escape
        for text in json_texts:
            if type(text) is not str or search(text) or (hiding is not None and hiding.search(text)):
                return False
        return True

    # -- escaping ----------------------------------------------------------------------------------------------
    def hide(self, value: Any) -> Any:
        """A copy of ``value`` whose control-token literals are replaced by their sentinel characters.

        Raises ``InvalidRecord`` when the data already holds a sentinel character: it could not be told apart.
        """
        if isinstance(value, str):
            if self.sentinel_pattern.search(value):
                raise InvalidRecord("text holds a Supplementary Private Use Area-B character; cannot escape safely")
            return self.pattern.sub(lambda m: self.sentinel_of[m.group(0)], value) if self.pattern else value
        if isinstance(value, dict):
            return {self.hide(k): self.hide(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.hide(v) for v in value]
        return value

    def restore(self, text: str) -> str:
        """Turn sentinel characters back into the literal strings they stand for."""
        return self.sentinel_pattern.sub(lambda m: self.literal_of.get(m.group(0), m.group(0)), text)

    def has_sentinel(self, text: str) -> bool:
        return self.sentinel_pattern.search(text) is not None


_SHORT_ESCAPES = {"/": "\\/", '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                  "\t": "\\t"}


def _hiding_escape(tokens: tuple[str, ...]) -> re.Pattern[str] | None:
    """A pattern for the JSON escapes that could spell a character of one of ``tokens``: ``\\uXXXX`` for each such
    character (any surrogate escape when one lies outside the BMP) and the short escapes of such characters."""
    chars = {c for token in tokens for c in token}
    if not chars:
        return None
    units = sorted(f"{ord(c):04x}" for c in chars if ord(c) < 0x10000)
    alternatives = [re.escape(_SHORT_ESCAPES[c]) for c in sorted(chars) if c in _SHORT_ESCAPES]
    if units:
        alternatives.append("\\\\u(?i:" + "|".join(units) + ")")
    if any(ord(c) >= 0x10000 for c in chars):
        alternatives.append("\\\\u(?i:d[89ab][0-9a-f]{2})")
    return re.compile("|".join(alternatives))


def is_control_token(added_token: Any) -> bool:
    """Whether an added token is a control token: every special token, and the non-special ones that are matched on
    raw text and are not blank (Qwen's ``<tool_call>``, ``<think>``). Blank or normalized added tokens (runs of
    spaces, user-added words) are ordinary text that happens to have its own id."""
    content = str(getattr(added_token, "content", added_token))
    if not content:
        return False
    if getattr(added_token, "special", False):
        return True
    return bool(content.strip()) and not getattr(added_token, "normalized", False)


def iter_strings(value: Any) -> Iterator[str]:
    """Every string inside a nested JSON-like value, dict keys included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str):
                    yield key
                stack.append(sub)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def encode_as_text(backend: Any, text: str) -> tuple[list[int], list[int], list[int]]:
    """Encode ``text`` as plain text: normalizer, pre-tokenizer and model, without matching added tokens.

    ``backend`` is a ``tokenizers.Tokenizer``. Returns ``(ids, starts, ends)`` with character offsets into ``text``.
    """
    from tokenizers import PreTokenizedString

    pretokenized = PreTokenizedString(text)
    if backend.normalizer is not None:
        pretokenized.normalize(lambda normalized: backend.normalizer.normalize(normalized))
    if backend.pre_tokenizer is not None:
        backend.pre_tokenizer.pre_tokenize(pretokenized)
    pretokenized.tokenize(lambda piece: backend.model.tokenize(piece))
    encoding = pretokenized.to_encoding()
    offsets = encoding.offsets
    return list(encoding.ids), [start for start, _ in offsets], [end for _, end in offsets]


def check_policy(policy: str) -> str:
    if policy not in CONTROL_TOKEN_POLICIES:
        raise ValueError(f"control_tokens must be one of {CONTROL_TOKEN_POLICIES}, got {policy!r}")
    return policy
