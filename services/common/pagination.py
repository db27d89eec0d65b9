"""Cursor pagination: opaque cursors over a stable sort key, a capped limit and the page shape."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select

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
        raise cursor_invalid()
    return values


def cursor_invalid() -> InvalidInput:
    """The 422 for a cursor this API did not issue, naming `cursor`."""
    return InvalidInput([{"loc": ["query", "cursor"], "msg": "not a cursor this API issued", "type": "cursor_invalid"}])


def decode_time_id(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """A cursor over a (timezone-aware time, UUID) sort key, or None without one."""
    values = decode_cursor(cursor, (str, str))
    if values is None:
        return None
    try:
        at, key = datetime.fromisoformat(values[0]), uuid.UUID(values[1])
    except ValueError:
        raise cursor_invalid() from None
    if at.tzinfo is None:
        raise cursor_invalid()
    return at, key


def newest_first(stmt: Select[Any], time_col: Any, id_col: Any, cursor: str | None, limit: int) -> Select[Any]:
    """A newest-first keyset page over (a time column, the id): the rows after the cursor's key, in
    order, one more than `limit` so that page_of can tell whether another page follows."""
    return _time_id_page(stmt, time_col, id_col, cursor, limit, descending=True)


def oldest_first(stmt: Select[Any], time_col: Any, id_col: Any, cursor: str | None, limit: int) -> Select[Any]:
    """As newest_first, soonest first (due times, start times)."""
    return _time_id_page(stmt, time_col, id_col, cursor, limit, descending=False)


def _time_id_page(
    stmt: Select[Any], time_col: Any, id_col: Any, cursor: str | None, limit: int, *, descending: bool
) -> Select[Any]:
    after = decode_time_id(cursor)
    if after is not None:
        at, rid = after
        if descending:
            stmt = stmt.where((time_col < at) | ((time_col == at) & (id_col < rid)))
        else:
            stmt = stmt.where((time_col > at) | ((time_col == at) & (id_col > rid)))
    order = (time_col.desc(), id_col.desc()) if descending else (time_col, id_col)
    return stmt.order_by(*order).limit(limit + 1)


def newest_id_first(stmt: Select[Any], id_col: Any, cursor: str | None, limit: int) -> Select[Any]:
    """A newest-first keyset page over an ascending integer id (ledgers, logs, histories)."""
    before = decode_cursor(cursor, (int,))
    if before is not None:
        stmt = stmt.where(id_col < before[0])
    return stmt.order_by(id_col.desc()).limit(limit + 1)


def id_key(row: Any) -> list[Any]:
    """The cursor key of a row sorted by its integer id."""
    return [row.id]


def time_id_key(time_attr: str) -> Callable[[Any], list[str]]:
    """The cursor key of a row sorted by (`time_attr`, id)."""
    return lambda r: [getattr(r, time_attr).isoformat(), str(r.id)]


def page_of(rows: list[T], limit: int, key: Callable[[T], list[Any]]) -> tuple[list[T], str | None]:
    """Given up to limit+1 rows in sort order, the page and the cursor after its last row."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key(rows[-1]))
    return rows, None
