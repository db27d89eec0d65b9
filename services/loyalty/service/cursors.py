"""Cursors over (time, id) sort keys; a cursor this API did not issue is a 422 naming `cursor`."""

import uuid
from datetime import datetime

from services.common.errors import InvalidInput
from services.common.pagination import decode_cursor


def decode_time_id(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    values = decode_cursor(cursor, (str, str))
    if values is None:
        return None
    try:
        at, key = datetime.fromisoformat(values[0]), uuid.UUID(values[1])
    except ValueError:
        at = key = None
    if at is None or at.tzinfo is None:
        raise InvalidInput(
            [{"loc": ["query", "cursor"], "msg": "not a cursor this API issued", "type": "cursor_invalid"}]
        )
    return at, key
