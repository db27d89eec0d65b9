"""Dependencies shared by the profile routers: the database, the personal-data settings, the clock
and the role sets, each declared once."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from services.common.auth import STAFF_ROLES, Principal, require_role
from services.common.db import Database
from services.common.idempotency import IdempotencyRequest, StoredResponse, idempotency_request
from services.profile.service import Privacy


async def _db(request: Request) -> Database:
    return request.app.state.db


async def _privacy(request: Request) -> Privacy:
    return request.app.state.privacy


async def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


Db = Annotated[Database, Depends(_db)]
Priv = Annotated[Privacy, Depends(_privacy)]
Now = Annotated[datetime, Depends(_now)]
Staff = Annotated[Principal, Depends(require_role(*STAFF_ROLES))]
StaffOrSystem = Annotated[Principal, Depends(require_role(*STAFF_ROLES, "system"))]
StaffOrCustomer = Annotated[Principal, Depends(require_role(*STAFF_ROLES, "customer"))]
AnyReader = Annotated[Principal, Depends(require_role("customer", *STAFF_ROLES, "system"))]
Supervisor = Annotated[Principal, Depends(require_role("supervisor", "admin"))]
System = Annotated[Principal, Depends(require_role("system", "admin"))]
CustomerId = Annotated[uuid.UUID, "customer id"]
Limit = Annotated[int, Query(ge=1, le=200, description="page size, at most 200")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor from the previous page")]


IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="a retry with the same key and body replays the answer")
]


def idempotency_for(
    key: str | None, principal: Principal, operation: str, path_id: uuid.UUID, body
) -> IdempotencyRequest | None:
    """The IdempotencyRequest for a create under a customer (None without a key)."""
    return idempotency_request(
        key, caller=principal.sub, operation=f"{operation}:{path_id}", body=body.model_dump(mode="json")
    )


def replayed(stored: StoredResponse) -> JSONResponse:
    return JSONResponse(stored.body, status_code=stored.status_code, headers={"Idempotency-Replayed": "true"})
