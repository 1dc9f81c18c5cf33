"""Split a rendered ChatML string (``<|im_start|>role\\n...<|im_end|>``) into turns."""

from __future__ import annotations

import re

from ..errors import InvalidRecord
from ._turns import ROLE_ALIASES, Turn

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
_BLOCK = re.compile(r"<\|im_start\|>([^\n]*)\n?(.*?)(?=<\|im_start\|>|\Z)", re.DOTALL)
_NOISE = ("<|endoftext|>", "<s>", "</s>")


def is_chatml(text: object) -> bool:
    """Whether a value is a rendered ChatML string."""
    return isinstance(text, str) and IM_START in text


def chatml_turns(text: str, where: str = "text") -> list[Turn]:
    """Turns of a ChatML string; text outside the blocks (other than end-of-text markers) is an error.

    A trailing empty assistant block (a generation prompt) is dropped.
    """
    head = text[: text.find(IM_START)]
    if _without_noise(head):
        raise InvalidRecord(f"{where}: text before the first {IM_START}: {head.strip()[:80]!r}")
    turns: list[Turn] = []
    for index, match in enumerate(_BLOCK.finditer(text)):
        role = match.group(1).strip()
        body = match.group(2)
        end = body.rfind(IM_END)
        if end >= 0:
            if _without_noise(body[end + len(IM_END):]):
                raise InvalidRecord(f"{where}: text after {IM_END} of block #{index}: {body[end + len(IM_END):].strip()[:80]!r}")
            body = body[:end]
        if not role:
            raise InvalidRecord(f"{where}: block #{index} has no role")
        turns.append(Turn(ROLE_ALIASES.get(role, role), body, {"role": role}, f"{where} block #{index}"))
    if turns and turns[-1].role == "assistant" and not turns[-1].text.strip():
        turns.pop()
    return turns


def _without_noise(text: str) -> str:
    for marker in _NOISE:
        text = text.replace(marker, "")
    return text.strip()
