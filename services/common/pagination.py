"""Cursor pagination: opaque cursors over a stable sort key, a capped limit and the page shape."""

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from services.common.errors import InvalidInput

T = TypeVar("T")
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kinds: tuple[type, ...] = (str,)) -> list[Any] | None:
    """The sort-key values a cursor holds, one of each kind; a cursor this API did not issue is a
    422 naming `cursor`."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != len(kinds)
        or not all(type(v) is kind for v, kind in zip(values, kinds, strict=False))
    ):
        raise InvalidInput(
            [{"loc": ["query", "cursor"], "msg": "not a cursor this API issued", "type": "cursor_invalid"}]
        )
    return values


def page_of(rows: list[T], limit: int, key) -> tuple[list[T], str | None]:
    """Given up to limit+1 rows in sort order, the page and the cursor after its last row."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key(rows[-1]))
    return rows, None
