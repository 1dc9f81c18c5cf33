"""Shared rules for rows built from gold answers (xLAM, BFCL, ToolAlpaca) rather than from recorded transcripts.

* Such rows carry ``meta["reference_answer"] = True``.
* When the gold answer is "call nothing" (irrelevance data), the assistant turn gets a fixed, neutral refusal text
  (``NO_CALL_TEXT``, overridable with the ``no_call_text`` option) and the row is marked
  ``meta["synthetic_content"] = True`` so that users can filter or rewrite those turns.
* Function names outside OpenAI's ``^[a-zA-Z0-9_-]{1,64}$`` (BFCL's ``math.factorial``) are sanitized; the originals
  are kept in ``meta["original_names"]``.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidRecord
from ..schema import Tool

NO_CALL_TEXT = "None of the available functions can be used to answer this request."
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def no_call_text(options: dict[str, Any]) -> str:
    """The assistant text for a gold answer without calls (option ``no_call_text`` or ``NO_CALL_TEXT``)."""
    text = options.get("no_call_text", NO_CALL_TEXT)
    if not isinstance(text, str) or not text.strip():
        raise InvalidRecord("option no_call_text must be a non-empty string")
    return text


def provenance(options: dict[str, Any], default_license: str | None = None) -> dict[str, Any]:
    """``license`` / ``language`` for ``meta``: from the options when given, else the format's known upstream license."""
    meta: dict[str, Any] = {}
    license_name = options.get("license") or default_license
    if license_name:
        meta["license"] = license_name
    if options.get("language"):
        meta["language"] = options["language"]
    return meta


def option_choice(options: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    """The value of a string option, ``allowed[0]`` when absent; any other value is rejected with the choices."""
    value = options.get(key, allowed[0])
    if value not in allowed:
        raise InvalidRecord(f"option {key} must be one of {allowed}, got {value!r}")
    return value


def sanitize_name(name: str) -> str:
    """``math.factorial`` → ``math_factorial``: every character outside ``[A-Za-z0-9_-]`` becomes ``_``."""
    return _INVALID_NAME_CHARS.sub("_", name)


class NameMap:
    """Sanitized names for the declared tools (and for any undeclared name a call uses), collision-checked."""

    def __init__(self, tools: list[Tool], enabled: bool = True):
        self.enabled = enabled
        self.original: dict[str, str] = {}
        self._owner: dict[str, str] = {}
        for tool in tools:
            tool["function"]["name"] = self.sanitized(tool["function"]["name"])

    def sanitized(self, name: str) -> str:
        """The name to use in the row for ``name`` (unchanged when sanitizing is off or not needed)."""
        if not self.enabled:
            return name
        clean = sanitize_name(name)
        owner = self._owner.setdefault(clean, name)
        if owner != name:
            raise InvalidRecord(f"function names {owner!r} and {name!r} both sanitize to {clean!r}")
        if clean != name:
            self.original[clean] = name
        return clean

    def meta(self) -> dict[str, Any]:
        """``{"original_names": {sanitized: original}}`` when any name changed, else ``{}``."""
        return {"original_names": dict(self.original)} if self.original else {}
