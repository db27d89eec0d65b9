"""The customer inbox: a customer reads its own notifications and marks them read. Nobody else reads
an inbox (staff see the occasions in their care tasks)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.common.access import CustomerOnly
from services.common.auth import Principal
from services.common.deps import Cursor, Db, Limit, Now
from services.common.errors import Forbidden, problem_responses
from services.loyalty.models import Notification
from services.loyalty.schemas.care import NotificationPage, NotificationRead
from services.loyalty.service import notifications

router = APIRouter(prefix="/v1/loyalty/notifications", tags=["inbox"])


def own_customer(principal: Principal) -> uuid.UUID:
    """The customer a customer token is for (its `sub`); 403 for a token whose sub names none."""
    try:
        return uuid.UUID(principal.sub)
    except ValueError:
        raise Forbidden("The token names no customer", code="role_forbidden") from None


def present_notification(n: Notification) -> NotificationRead:
    return NotificationRead(
        id=n.id or 0,
        kind=n.kind,  # type: ignore[arg-type]
        title=n.title,
        body=n.body,
        data=n.data,
        push_state=n.push_state,  # type: ignore[arg-type]
        is_read=n.read_at is not None,
        read_at=n.read_at,
        created_at=n.created_at,
    )


@router.get(
    "",
    response_model=NotificationPage,
    summary="The caller's own notifications, newest first (customer token)",
    responses=problem_responses(401, 403, 422),
)
def list_notifications(
    principal: CustomerOnly,
    db: Db,
    unread: Annotated[bool, Query(description="only the unread ones")] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> NotificationPage:
    items, next_cursor, count = notifications.list_notifications(
        db, customer_id=own_customer(principal), unread_only=unread, limit=limit, cursor=cursor
    )
    return NotificationPage(items=[present_notification(n) for n in items], next_cursor=next_cursor, unread=count)


@router.post(
    "/{notification_id}/read",
    response_model=NotificationRead,
    summary="Mark one of the caller's notifications read (again: unchanged)",
    responses=problem_responses(401, 403, 404, 422),
)
def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=2**63 - 1)], principal: CustomerOnly, db: Db, now: Now
) -> NotificationRead:
    row = notifications.mark_read(db, customer_id=own_customer(principal), notification_id=notification_id, now=now)
    return present_notification(row)
