"""The dependency aliases every service's routers share: the database, paging, versions and retries.
Role checks live in services.common.access."""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BeforeValidator

from services.common.db import Database
from services.common.idempotency import StoredResponse


async def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _now(request: Request) -> datetime:
    """The app's clock (app.state.clock, which tests replace to move time without sleeping)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


Db = Annotated[Database, Depends(_db)]
Now = Annotated[datetime, Depends(_now)]
Limit = Annotated[int, Query(ge=1, le=200, description="page size, at most 200")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor from the previous page")]


def _rfc3339_only(value: object) -> object:
    # Pydantic would read a bare number as a Unix timestamp; the API promises RFC 3339 (422 otherwise).
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[\d.eE+-]+\s*", value) and not re.search(r"\d-\d", value):
        raise ValueError("an RFC 3339 date-time is expected, not a number")
    return value


# A time window on a list (?from=&to=); on a table partitioned by month only the months it covers are read.
From = Annotated[
    AwareDatetime | None, BeforeValidator(_rfc3339_only), Query(alias="from", description="inclusive, RFC 3339")
]
To = Annotated[
    AwareDatetime | None, BeforeValidator(_rfc3339_only), Query(alias="to", description="exclusive, RFC 3339")
]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the ETag from your last read")]
IdemKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="a retry with the same key and body replays the answer")
]


def replay(stored: StoredResponse, location: str | None = None, etag: str | None = None) -> JSONResponse:
    """The stored first answer to an Idempotency-Key, sent again and marked as a replay (with the
    created resource's Location and ETag where the first answer had them)."""
    headers = {"Idempotency-Replayed": "true"}
    if location:
        headers["Location"] = location
    if etag:
        headers["ETag"] = etag
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)
