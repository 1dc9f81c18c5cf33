"""A cheap script-based language guess for rows whose source does not state a language."""

from __future__ import annotations

import re
from typing import Any

_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7a3]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
)
_NON_LATIN = re.compile(r"[^\u0000-\u03ff]")
_SAMPLE_CHARS = 4000


def guess_language(messages: list[dict[str, Any]]) -> str:
    """ISO code of the dominant non-Latin script in user/assistant text (Japanese kana beats Han), else ``en``."""
    text = "".join(str(m.get("content") or "") for m in messages if m.get("role") in ("user", "assistant"))
    text = text[:_SAMPLE_CHARS]
    if not _NON_LATIN.search(text):
        return "en"
    counts = {code: len(pattern.findall(text)) for code, pattern in _SCRIPTS}
    if counts["ja"]:
        return "ja"
    code, count = max(counts.items(), key=lambda item: item[1])
    return code if count >= 2 else "en"
