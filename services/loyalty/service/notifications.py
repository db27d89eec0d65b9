"""The customer inbox: notifications made from the feeds (complaint status, survey invitations, care
reminders) and from loyalty's own jobs (points expiring, event reminders, campaign messages). The
occasion's key is unique, so the same occasion never makes two notifications. A notification made while
the customer can be pushed to (an app channel with consent, care_customer.has_app_push) is `pending`
for the app push; the push itself is the delivery's (docs/architecture.md)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.common.db import Database, rows_affected, upsert_insert
from services.common.errors import NotFound
from services.common.pagination import id_key, newest_id_first, page_of
from services.loyalty.models import CareCustomer, Notification


def notification_not_found(notification_id: int) -> NotFound:
    return NotFound(f"No notification {notification_id}", code="notification_not_found")


def can_push(s: Session, customer_id: uuid.UUID) -> bool:
    """Has the customer an app channel and consent to be pushed to, as profile's feed last said?"""
    return bool(s.execute(select(CareCustomer.has_app_push).where(CareCustomer.customer_id == customer_id)).scalar())


def notify(
    s: Session,
    *,
    customer_id: uuid.UUID,
    key: str,
    kind: str,
    title: str,
    body: str,
    now: datetime,
    data: dict[str, Any] | None = None,
    push_state: str | None = None,
) -> bool:
    """Adds the notification in the caller's transaction unless its occasion (`key`) has one already;
    returns whether it was added. `push_state` "sent" for a message the app push has already carried."""
    stmt = (
        upsert_insert(s)(Notification)
        .values(
            customer_id=customer_id,
            dedupe_key=key,
            kind=kind,
            title=title[:100],
            body=body[:500],
            data=data or {},
            push_state=push_state or ("pending" if can_push(s, customer_id) else "none"),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification.id)  # type: ignore[arg-type]
    )
    return s.execute(stmt).first() is not None  # (a rowcount is not reliable for an upsert on psycopg)


def notify_pushed(s: Session, *, items: list[dict[str, Any]], now: datetime) -> None:
    """Adds, in the caller's transaction and one statement, notifications the app push has already carried
    (push_state sent); each item has customer_id, key, kind, title, body and data. An occasion (`key`) that
    has one already is skipped."""
    if not items:
        return
    rows = [
        {
            "customer_id": i["customer_id"],
            "dedupe_key": i["key"],
            "kind": i["kind"],
            "title": i["title"][:100],
            "body": i["body"][:500],
            "data": i["data"],
            "push_state": "sent",
            "created_at": now,
        }
        for i in items
    ]
    table = Notification.__table__  # type: ignore[attr-defined]
    s.execute(upsert_insert(s)(table).on_conflict_do_nothing(index_elements=["dedupe_key"]), rows)


def notify_campaign(
    db: Database, *, customer_id: uuid.UUID, campaign_id: str, title: str, body: str, now: datetime
) -> bool:
    """A campaign's message in the customer's inbox, once per campaign and customer (for the campaign
    delivery to call; its own transaction)."""
    with db.write() as s:
        added = notify(
            s,
            customer_id=customer_id,
            key=f"campaign:{campaign_id}:{customer_id}",
            kind="campaign",
            title=title,
            body=body,
            now=now,
            data={"campaign_id": campaign_id},
        )
        s.commit()
        return added


def list_notifications(
    db: Database, *, customer_id: uuid.UUID, unread_only: bool, limit: int, cursor: str | None
) -> tuple[list[Notification], str | None, int]:
    """The customer's notifications newest first, the cursor after the page, and the unread count."""
    base = select(Notification).where(Notification.customer_id == customer_id)
    if unread_only:
        base = base.where(Notification.read_at.is_(None))  # type: ignore[union-attr]
    unread = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.customer_id == customer_id, Notification.read_at.is_(None))  # type: ignore[union-attr]
    )
    with db.read() as s:
        rows = list(s.execute(newest_id_first(base, Notification.id, cursor, limit)).scalars())
        count = int(s.execute(unread).scalar() or 0)
    items, next_cursor = page_of(rows, limit, key=id_key)
    return items, next_cursor, count


def mark_read(db: Database, *, customer_id: uuid.UUID, notification_id: int, now: datetime) -> Notification:
    """Marks the customer's notification read (again: unchanged); 404 when it is not theirs."""
    with db.write() as s:
        row = s.get(Notification, notification_id)
        if row is None or row.customer_id != customer_id:
            raise notification_not_found(notification_id)
        if row.read_at is None:
            row.read_at = now
            s.flush()
        s.commit()
        s.refresh(row)
        return row


def pending_pushes(db: Database, *, limit: int) -> list[Notification]:
    """The oldest notifications waiting for the app push."""
    with db.read() as s:
        rows = list(
            s.execute(
                select(Notification).where(Notification.push_state == "pending").order_by(Notification.id).limit(limit)  # type: ignore[arg-type]
            ).scalars()
        )
        for row in rows:
            s.expunge(row)
        return rows


def push_payload(n: Notification) -> dict[str, Any]:
    """What the app receives for an inbox notification: its id (the app de-duplicates by it) and text."""
    return {
        "message_id": f"notification-{n.id}",
        "notification_id": n.id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "data": n.data,
        "created_at": n.created_at.isoformat(),
    }


def mark_pushed(db: Database, *, notification_ids: list[int]) -> int:
    """Pending notifications the app push has delivered (for the delivery to call); returns how many."""
    with db.write() as s:
        done = rows_affected(
            s.execute(
                update(Notification)
                .where(Notification.id.in_(notification_ids), Notification.push_state == "pending")  # type: ignore[union-attr]
                .values(push_state="sent")
            )
        )
        s.commit()
        return done
