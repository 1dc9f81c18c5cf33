"""A cheap script-based language guess for rows whose source does not state a language."""

from __future__ import annotations

from typing import Any

_RANGES = (
    ("ko", (0xAC00, 0xD7A3)),
    ("ja", (0x3040, 0x30FF)),
    ("zh", (0x4E00, 0x9FFF)),
    ("ru", (0x0400, 0x04FF)),
    ("ar", (0x0600, 0x06FF)),
)
_SAMPLE_CHARS = 4000


def guess_language(messages: list[dict[str, Any]]) -> str:
    """ISO code of the dominant non-Latin script in user/assistant text (Japanese kana beats Han), else ``en``."""
    text = "".join(str(m.get("content") or "") for m in messages if m.get("role") in ("user", "assistant"))
    counts = dict.fromkeys((code for code, _ in _RANGES), 0)
    for char in text[:_SAMPLE_CHARS]:
        point = ord(char)
        if point < 0x0400:
            continue
        for code, (low, high) in _RANGES:
            if low <= point <= high:
                counts[code] += 1
                break
    if counts["ja"]:
        return "ja"
    code, count = max(counts.items(), key=lambda item: item[1])
    return code if count >= 2 else "en"
