"""Outreach records: their forward-only state machine, the receipts that move them (the app's delivered
and opened, a response, the SMS gateway's delivery reports), conversions from holdings, and listing."""

import uuid
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Forbidden, NotFound
from services.common.outbox import serialise_outbox_writes
from services.common.pagination import id_key, newest_id_first, page_of
from services.loyalty.models import Campaign, Outreach, outbox

# Forward order; failed ends a record that was never delivered.
RANK = {"queued": 0, "sent": 1, "delivered": 2, "opened": 3, "responded": 4, "converted": 5, "failed": 1}
STAMP = {
    "sent": "sent_at",
    "delivered": "delivered_at",
    "opened": "opened_at",
    "responded": "responded_at",
    "converted": "converted_at",
    "failed": "failed_at",
}
RECEIPT_STATES = ("delivered", "opened", "responded")


def outreach_not_found(outreach_id: Any) -> NotFound:
    return NotFound(f"No outreach record {outreach_id}", code="outreach_not_found")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def changed_event(row: Any, state: str, now: datetime, reason: str | None = None) -> dict[str, Any]:
    """An outreach.changed outbox row (the subject is the customer)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "outreach.changed",
        "occurred_at": now,
        "subject_id": str(row.customer_id),
        "data": {
            "outreach_id": row.id,
            "campaign_id": str(row.campaign_id),
            "channel": row.channel,
            "purpose": row.purpose,
            "state": state,
            "failure_reason": reason,
            "at": iso(now),
        },
    }


def record_changes(s: Session, events: list[dict[str, Any]]) -> None:
    """The batch's outreach.changed events in one insert; call last before commit (the outbox lock)."""
    if events:
        serialise_outbox_writes(s, outbox)
        s.execute(insert(outbox), events)


def advance(s: Session, row: Outreach, state: str, now: datetime, reason: str | None = None) -> bool:
    """Moves `row` to `state` when that is forward (a repeat or a step back changes nothing: receipts
    may come twice or late); returns whether it moved, and records outreach.changed if so."""
    if row.state == "failed":
        return False
    if state == "failed" and row.state not in ("queued", "sent"):
        return False  # a late failure report never undoes a delivery
    if state != "failed" and RANK[state] <= RANK[row.state]:
        return False
    row.state = state
    setattr(row, STAMP[state], now)
    row.updated_at = now
    if state == "failed":
        row.failure_reason = reason
    record_changes(s, [changed_event(row, state, now, reason)])
    return True


def _campaign_reach(s: Session, row: Outreach, reach: set[str] | None) -> bool:
    if reach is None:
        return True
    campaign = s.get(Campaign, row.campaign_id)
    return campaign is not None and campaign.branch_code in reach


def record_receipt(
    db: Database, *, outreach_id: int, state: str, actor: Principal, reach: set[str] | None, now: datetime
) -> Outreach:
    """A customer reports their own message delivered, opened or responded to; staff record a response
    (a phone task's call). 404 for another customer's record or one outside the staff member's subtree;
    403 receipt_forbidden when staff report delivery or opening."""
    with db.write() as s:
        row = s.get(Outreach, outreach_id, with_for_update=True)
        if row is None:
            raise outreach_not_found(outreach_id)
        if actor.is_customer:
            if str(row.customer_id) != actor.sub:
                raise outreach_not_found(outreach_id)
        else:
            if not _campaign_reach(s, row, reach):
                raise outreach_not_found(outreach_id)
            if state != "responded":
                raise Forbidden("Staff record a response; delivery and opening are the app's", code="receipt_forbidden")
        advance(s, row, state, now)
        s.commit()
        s.refresh(row)
        return row


def record_sms_report(db: Database, *, reference: str, delivered: bool, now: datetime) -> Outreach | None:
    """The SMS gateway's delivery report for the message it was given as `reference` (outreach-<id>):
    delivered, or failed (`sms_undelivered`). None when no record has that reference."""
    with db.write() as s:
        row = s.execute(select(Outreach).where(Outreach.provider_ref == reference).with_for_update()).scalar()
        if row is None:
            return None
        if delivered:
            advance(s, row, "delivered", now)
        else:
            advance(s, row, "failed", now, "sms_undelivered")
        s.commit()
        s.refresh(row)
        return row


def list_outreach(
    db: Database,
    *,
    campaign_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    state: str | None = None,
    reach: set[str] | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Outreach], str | None]:
    """Newest first; a branch-bound caller sees the outreach of its subtree's campaigns."""
    stmt = select(Outreach)
    if campaign_id is not None:
        stmt = stmt.where(Outreach.campaign_id == campaign_id)
    if customer_id is not None:
        stmt = stmt.where(Outreach.customer_id == customer_id)
    if state is not None:
        stmt = stmt.where(Outreach.state == state)
    if reach is not None:
        stmt = stmt.where(
            col(Outreach.campaign_id).in_(select(Campaign.id).where(col(Campaign.branch_code).in_(reach)))
        )
    stmt = newest_id_first(stmt, Outreach.id, cursor, limit)
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, id_key)


def credit_conversion(
    s: Session, customer_id: uuid.UUID, product_code: str, opened_on: date, zone: tzinfo, now: datetime
) -> int:
    """A customer now holds `product_code` (opened on `opened_on`): each outreach of a campaign promoting it
    that reached the customer (sent or later, not converted) on or before that day, and within the campaign's
    attribution window, is converted. Returns how many."""
    rows = s.execute(
        select(Outreach, Campaign.attribution_days)
        .join(Campaign, Campaign.id == Outreach.campaign_id)  # type: ignore[arg-type]
        .where(
            Outreach.customer_id == customer_id,
            Campaign.product_code == product_code,
            col(Outreach.state).in_(("sent", "delivered", "opened", "responded")),
        )
    ).all()
    converted = 0
    for row, days in rows:
        sent_on = row.sent_at.astimezone(zone).date()
        if sent_on <= opened_on <= sent_on + timedelta(days=days):
            converted += advance(s, row, "converted", max(now, row.sent_at))
    return converted


def counts_by_state(db: Database) -> list[tuple[str, str, int]]:
    """(channel, state, count) of every outreach record; the metric's scrape."""
    with db.read() as s:
        rows = s.execute(
            select(Outreach.channel, Outreach.state, func.count()).group_by(Outreach.channel, Outreach.state)
        ).all()
    return [(str(c), str(st), int(n)) for c, st, n in rows]
