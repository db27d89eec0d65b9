"""Newest-first keyset pages over (a time column, the id) shared by the per-customer histories."""

import uuid
from datetime import datetime

from sqlalchemy import Select

from services.common.errors import InvalidInput
from services.common.pagination import decode_cursor


def cursor_invalid() -> InvalidInput:
    return InvalidInput([{"loc": ["query", "cursor"], "msg": "not a cursor this API issued", "type": "cursor_invalid"}])


def newest_first(stmt: Select, time_col, id_col, cursor: str | None, limit: int) -> Select:
    before = decode_cursor(cursor, (str, str))
    if before is not None:
        try:
            at, rid = datetime.fromisoformat(before[0]), uuid.UUID(before[1])
        except ValueError:
            raise cursor_invalid() from None
        stmt = stmt.where((time_col < at) | ((time_col == at) & (id_col < rid)))
    return stmt.order_by(time_col.desc(), id_col.desc()).limit(limit + 1)


def time_key(time_attr: str):
    return lambda r: [getattr(r, time_attr).isoformat(), str(r.id)]
