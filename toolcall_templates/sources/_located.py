"""Builder calls whose errors name the place in the source record (``conversations[3]: tool call ...``)."""

from __future__ import annotations

from typing import Any

from ..conversation import ConversationBuilder
from ..errors import InvalidRecord


def add_call(builder: ConversationBuilder, where: str, name: Any, arguments: Any, call_id: str | None = None) -> None:
    """``builder.call`` with ``where`` prefixed to any InvalidRecord it raises."""
    try:
        builder.call(name, arguments, call_id)
    except InvalidRecord as exc:
        raise InvalidRecord(f"{where}: {exc.reason}") from None


def add_result(
    builder: ConversationBuilder, where: str, content: Any, name: str | None = None, call_id: str | None = None
) -> None:
    """``builder.result`` with ``where`` prefixed to any InvalidRecord it raises."""
    try:
        builder.result(content, name, call_id)
    except InvalidRecord as exc:
        raise InvalidRecord(f"{where}: {exc.reason}") from None
