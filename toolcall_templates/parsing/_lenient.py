"""Shared pieces of the two parsing modes, for every family parser (``parse(text, strict=True)``).

``strict=True`` (the default) validates: any malformed call raises ToolCallParseError with the reason. It is the
mode for checking training data, where ``parse(render(turn)) == turn``.

``strict=False`` reads what a model generated, as the tool parsers of serving engines (vLLM, SGLang) read it, and
never raises on a string. Every family follows the same rules:

- A call cut off by the end of the text (``max_tokens``: no closing tag, a JSON value never closed, a tag itself cut
  off) yields no call, and none of its markup reaches ``content``. Complete calls before it are kept. A JSON call
  whose payload is complete (its value closed) but whose closing tag is missing is kept, as vLLM's and SGLang's
  Hermes parsers keep it; where a payload cannot tell it is complete (XML parameters), a missing closing tag means
  cut off.
- A complete call whose payload is not a valid call (not JSON, no name, arguments that are not an object) yields
  no call. In a tagged format (``<tool_call>``, ``<function_call>``) the whole tag is dropped, as SGLang drops it; in
  an untagged one the text comes back as content, as vLLM's ``llama3_json`` parser returns it.
- A closing tag without its opening tag is dropped.
- When the text held call markup, the content comes back without surrounding whitespace (SGLang's
  ``normal_text.strip()``). Text without any call markup comes back as it is.
- A reasoning block the text opens and never closes is all reasoning (generation stopped while thinking).

The helpers here: :func:`read_tagged_calls` (the calls of ``OPEN payload CLOSE`` blocks in both modes, with the text
around them) and :func:`lenient_content` (that text as content); :func:`attempt` (run a strict step, or get None in
lenient mode); :func:`tagged_blocks` (split text at the tags, an unclosed last block included); :func:`json_prefix`
(a complete JSON value at the start of a text, and what follows it); :func:`is_cut_off_json` (a JSON value the end
of the text cuts off); :func:`partial_tag_at_end` (a tag cut off at the end of the text); :func:`cut_off_reasoning`
(a reasoning block never closed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import ToolCallParseError

T = TypeVar("T")
_DECODER = json.JSONDecoder()
STRICT_PARTIAL_TAG = 2
"""Characters of a tag a text must end with for strict mode to call it cut off (a lone ``<`` may end real text);
lenient mode drops any cut-off start of a tag, down to its first character."""


def attempt(strict: bool, step: Callable[[], T]) -> T | None:
    """``step()``; in lenient mode None instead of its ToolCallParseError."""
    if strict:
        return step()
    try:
        return step()
    except ToolCallParseError:
        return None


@dataclass(frozen=True)
class TaggedBlock:
    """One ``OPEN payload CLOSE`` block of a text."""

    before: str
    """The text between the previous block (or the start) and this block's opening tag."""
    payload: str
    """The text inside the tags (up to the end of the text when the block is not closed)."""
    closed: bool
    """False when the text ends before the closing tag."""
    start: int
    """Position of the opening tag in the text."""


def tagged_blocks(text: str, open_tag: str, close_tag: str) -> tuple[list[TaggedBlock], str]:
    """The blocks of ``text`` in order, and the text after the last one (all of ``text`` when there is none).

    An opening tag without a closing tag makes a last, unclosed block that runs to the end of the text.
    """
    blocks: list[TaggedBlock] = []
    position = 0
    while (start := text.find(open_tag, position)) >= 0:
        inner = start + len(open_tag)
        end = text.find(close_tag, inner)
        if end < 0:
            blocks.append(TaggedBlock(text[position:start], text[inner:], False, start))
            return blocks, ""
        blocks.append(TaggedBlock(text[position:start], text[inner:end], True, start))
        position = end + len(close_tag)
    return blocks, text[position:]


def json_prefix(text: str) -> tuple[Any, str] | None:
    """``(value, rest)`` when ``text`` (after leading whitespace) starts with a complete JSON value, else None."""
    stripped = text.lstrip()
    try:
        value, end = _DECODER.raw_decode(stripped)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value, stripped[end:]


def is_cut_off_json(text: str) -> bool:
    """Whether ``text`` (after leading whitespace) opens a JSON object or array that is still open, or inside a
    string, when the text ends: generation stopped in the middle of it. A value that is closed, however malformed,
    is not cut off; nor is text that does not start with ``{`` or ``[``."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return False
    closing = {"{": "}", "[": "]"}
    stack: list[str] = []
    in_string = escaped = False
    for char in stripped:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in closing:
            stack.append(closing[char])
        elif char in "}]":
            if not stack or stack.pop() != char:
                return False
            if not stack:
                return False
    return True


def partial_tag_at_end(text: str, tag: str, minimum: int = STRICT_PARTIAL_TAG) -> int:
    """Length of the longest proper prefix of ``tag`` (``minimum`` characters or more) that ``text`` ends with; 0
    when none: the text was cut off inside that tag."""
    for length in range(min(len(tag) - 1, len(text)), max(minimum, 1) - 1, -1):
        if text.endswith(tag[:length]):
            return length
    return 0


@dataclass
class TaggedCalls:
    """The calls of a text's ``OPEN payload CLOSE`` blocks and the text around them."""

    pieces: list[str]
    """The text before the first block, between blocks and after the last one (one more than the blocks); in
    lenient mode without stray closing tags or a cut-off opening tag."""
    calls: list[Any]
    markup: bool
    """Whether the text held call markup: a block, a stray closing tag or a cut-off opening tag."""


def read_tagged_calls(text: str, open_tag: str, close_tag: str, read_call: Callable[[str, int], Any],
                      strict: bool) -> TaggedCalls:
    """The calls of every ``open_tag payload close_tag`` block of ``text``; ``read_call(payload, index)`` builds one
    call or raises ToolCallParseError.

    Strict: an unclosed block, a payload ``read_call`` rejects, a closing tag without an opening one and text that
    ends inside an opening tag raise ToolCallParseError. Lenient: each of these yields no call and leaves none of its
    markup in the pieces; an unclosed block still yields its call when its payload is complete (what follows it is
    blank or a cut-off closing tag).
    """
    blocks, tail = tagged_blocks(text, open_tag, close_tag)
    pieces = [block.before for block in blocks] + [tail]
    markup = bool(blocks)
    calls: list[Any] = []
    for block in blocks:
        if block.closed:
            call = attempt(strict, lambda: read_call(block.payload, len(calls)))
        elif strict:
            raise ToolCallParseError(f"unterminated {open_tag} block (cut off?): {text[block.start:block.start + 80]!r}")
        else:
            payload = block.payload.rstrip()
            payload = payload[:len(payload) - partial_tag_at_end(payload, close_tag, 1)]
            call = attempt(False, lambda: read_call(payload, len(calls)))
        if call is not None:
            calls.append(call)
    for index, piece in enumerate(pieces):
        if close_tag in piece:
            if strict:
                raise ToolCallParseError(f"{close_tag} without a matching {open_tag}")
            pieces[index], markup = piece.replace(close_tag, ""), True
    if cut := partial_tag_at_end(pieces[-1], open_tag, STRICT_PARTIAL_TAG if strict else 1):
        if strict:
            raise ToolCallParseError(f"the text ends inside a {open_tag} tag (cut off?): {pieces[-1][-cut:]!r}")
        pieces[-1], markup = pieces[-1][:-cut], True
    return TaggedCalls(pieces, calls, markup)


def lenient_content(pieces: list[str]) -> str:
    """Content from the text around calls: each piece without surrounding whitespace, the non-empty ones joined by
    newlines."""
    return "\n".join(text for piece in pieces if (text := piece.strip()))


def cut_off_reasoning(text: str, open_tag: str = "<think>", close_tag: str = "</think>") -> str | None:
    """The reasoning of a text that opens a reasoning block and ends before closing it (generation stopped while
    thinking: everything is reasoning, as vLLM's reasoning parsers read it), without a cut-off closing tag; None
    when the text does not open such a block or closes it."""
    stripped = text.lstrip()
    if not stripped.startswith(open_tag) or close_tag in stripped:
        return None
    inner = stripped[len(open_tag):]
    return inner[:len(inner) - partial_tag_at_end(inner, close_tag, 1)].strip()
