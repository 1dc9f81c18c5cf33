"""Errors raised for bad input."""

from __future__ import annotations


class InvalidRecord(ValueError):
    """A source record that cannot be turned into a canonical row. The message names the reason."""

    def __init__(self, reason: str, *, record_ref: str | None = None):
        self.reason = reason
        self.record_ref = record_ref
        super().__init__(f"{record_ref}: {reason}" if record_ref else reason)


class UnknownFormat(InvalidRecord):
    """No registered source format recognizes the record."""
