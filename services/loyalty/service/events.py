"""Customer events (appreciation events, lectures, health talks): registration against capacity with a
waitlist, cancellation that frees the seat for the first on the waitlist, check-in on the day, and
points charged for a seat or earned by attending."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database, utcnow
from services.common.errors import Conflict, NotFound
from services.common.pagination import oldest_first, page_of, time_id_key
from services.loyalty.models import CustomerEvent, EventRegistration, PointsAccount
from services.loyalty.service.accounts import segments_of
from services.loyalty.service.activities import awards_for_trigger
from services.loyalty.service.classes import ClassCatalogue
from services.loyalty.service.ledger import (
    Posting,
    commit,
    credit,
    debit,
    expire_due,
    lock_account,
    require_active,
    restore,
)
from services.loyalty.service.offers import events_seen_by, visible
from services.loyalty.service.policy import Policy

SEATED = ("registered", "attended")


def event_not_found(event_id) -> NotFound:
    return NotFound(f"No customer event {event_id}", code="event_not_found")


def registration_not_found(event_id, customer_id) -> NotFound:
    return NotFound(f"Customer {customer_id} is not registered for event {event_id}", code="registration_not_found")


def create_event(db: Database, *, fields: dict[str, Any], policy: Policy, classes: ClassCatalogue) -> CustomerEvent:
    """422 for a target segment that is no class."""
    classes.check("target_segments", fields.get("target_segments"))
    with db.write() as s:
        event = CustomerEvent(**fields, created_at=policy.now())
        s.add(event)
        commit(s, policy)
        return event


def read_event(
    db: Database, *, event_id: uuid.UUID, principal: Principal | None = None, now: datetime | None = None
) -> tuple[CustomerEvent, int]:
    """The event with its seats taken; 404 when `principal` may not see it (services.loyalty.service.offers)."""
    with db.read() as s:
        event = s.get(CustomerEvent, event_id)
        seen = principal is None or event is None
        if not seen and not visible(s, events_seen_by(s, principal, now or utcnow()), CustomerEvent, event_id):
            event = None
        if event is None:
            raise event_not_found(event_id)
        return event, _seated(s, event_id)


def _lock_event(s: Session, event_id: uuid.UUID) -> CustomerEvent:
    """The event row locked for the rest of the transaction; 404 event_not_found."""
    event = s.get(CustomerEvent, event_id, with_for_update=True)
    if event is None:
        raise event_not_found(event_id)
    return event


def _registration(s: Session, event_id: uuid.UUID, customer_id: uuid.UUID) -> EventRegistration | None:
    return s.execute(
        select(EventRegistration).where(
            EventRegistration.event_id == event_id, EventRegistration.customer_id == customer_id
        )
    ).scalar()


def _seated(s: Session, event_id: uuid.UUID) -> int:
    return s.execute(
        select(func.count()).where(EventRegistration.event_id == event_id, col(EventRegistration.status).in_(SEATED))
    ).scalar_one()


def list_events(
    db: Database,
    *,
    branch_code: str | None,
    starts_after: datetime | None,
    limit: int,
    cursor: str | None,
    principal: Principal | None = None,
    now: datetime | None = None,
) -> tuple[list[CustomerEvent], str | None]:
    """By start time, then id; those `principal` may see (services.loyalty.service.offers)."""
    stmt = select(CustomerEvent)
    if branch_code:
        stmt = stmt.where(CustomerEvent.branch_code == branch_code)
    if starts_after:
        stmt = stmt.where(CustomerEvent.starts_at >= starts_after)
    stmt = oldest_first(stmt, CustomerEvent.starts_at, CustomerEvent.id, cursor, limit)
    with db.read() as s:
        if principal is not None:
            stmt = stmt.where(events_seen_by(s, principal, now or utcnow()))
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, key=time_id_key("starts_at"))


def list_registrations(db: Database, *, customer_id: uuid.UUID) -> list[tuple[EventRegistration, CustomerEvent]]:
    with db.read() as s:
        return registrations_of(s, customer_id)


def registrations_of(s: Session, customer_id: uuid.UUID) -> list[tuple[EventRegistration, CustomerEvent]]:
    """Every registration of the customer with its event, by the event's start."""
    rows = s.execute(
        select(EventRegistration, CustomerEvent)
        .join(CustomerEvent, CustomerEvent.id == EventRegistration.event_id)
        .where(EventRegistration.customer_id == customer_id)
        .order_by(CustomerEvent.starts_at, CustomerEvent.id)
    ).all()
    return [(r, e) for r, e in rows]


def _charge(s: Session, event: CustomerEvent, reg: EventRegistration, policy: Policy) -> None:
    if event.points_price <= 0:
        return
    account = lock_account(s, reg.customer_id)
    require_active(account)
    entry = debit(
        s,
        account,
        kind="redeem",
        points=event.points_price,
        policy=policy,
        posting=Posting(source="event", source_ref=str(event.id), reason=f"seat at {event.title}"[:500]),
    )
    reg.charge_entry_id = entry.id


def register(db: Database, *, event_id: uuid.UUID, customer_id: uuid.UUID, policy: Policy) -> EventRegistration:
    """A seat while there is capacity (the points price charged), else a place on the waitlist.
    409 event_closed, event_not_eligible, already_registered, points_insufficient, account_frozen."""
    now = policy.now()
    with db.write() as s:
        event = _lock_event(s, event_id)  # serialises seat counting
        if event.status != "scheduled" or event.starts_at <= now:
            raise Conflict("Registration for this event is closed", code="event_closed")
        if event.target_segments and not (segments_of(s, customer_id) & set(event.target_segments)):
            raise Conflict("This event is for particular customer segments", code="event_not_eligible")
        reg = _registration(s, event_id, customer_id)
        if reg is not None and reg.status != "cancelled":
            raise Conflict("The customer is already registered for this event", code="already_registered")
        if reg is None:
            reg = EventRegistration(event_id=event_id, customer_id=customer_id, status="waitlisted")
            s.add(reg)
        reg.queued_at = reg.updated_at = now
        reg.queue_no = (
            1
            + s.execute(
                select(func.coalesce(func.max(EventRegistration.queue_no), 0)).where(
                    EventRegistration.event_id == event_id
                )
            ).scalar_one()
        )
        reg.status, reg.charge_entry_id, reg.checked_in_at = "waitlisted", None, None
        if _seated(s, event_id) < event.capacity:
            _charge(s, event, reg, policy)
            reg.status = "registered"
        s.flush()
        commit(s, policy)
        return reg


def _promote_first_waiting(s: Session, event: CustomerEvent, policy: Policy) -> None:
    waiting = s.execute(
        select(EventRegistration)
        .where(EventRegistration.event_id == event.id, EventRegistration.status == "waitlisted")
        .order_by(EventRegistration.queue_no)
    ).scalars()
    for reg in waiting:
        if event.points_price > 0:
            account = s.get(PointsAccount, reg.customer_id, with_for_update=True)
            if account is None or account.status != "active":
                continue
            expire_due(s, account, policy)
            if account.balance < event.points_price:
                continue  # cannot pay for the seat: stays on the waitlist, the next one gets it
        _charge(s, event, reg, policy)
        reg.status, reg.updated_at = "registered", policy.now()
        return


def cancel_registration(
    db: Database, *, event_id: uuid.UUID, customer_id: uuid.UUID, policy: Policy
) -> EventRegistration:
    """Points paid come back; a freed seat goes to the first on the waitlist who can take it.
    409 registration_cancelled, event_closed (after the start or once attended)."""
    now = policy.now()
    with db.write() as s:
        event = _lock_event(s, event_id)
        reg = _registration(s, event_id, customer_id)
        if reg is None:
            raise registration_not_found(event_id, customer_id)
        if reg.status == "cancelled":
            raise Conflict("The registration is already cancelled", code="registration_cancelled")
        if reg.status == "attended" or event.starts_at <= now:
            raise Conflict("The event has started; the registration can no longer be cancelled", code="event_closed")
        was_seated = reg.status == "registered"
        if reg.charge_entry_id is not None:
            account = lock_account(s, customer_id)
            restore(
                s,
                account,
                reg.charge_entry_id,
                policy=policy,
                posting=Posting(source="event", source_ref=str(event.id), reason="event registration cancelled"),
            )
        reg.status, reg.updated_at, reg.charge_entry_id = "cancelled", now, None
        s.flush()
        if was_seated:
            _promote_first_waiting(s, event, policy)
        commit(s, policy)
        return reg


def check_in(db: Database, *, event_id: uuid.UUID, customer_id: uuid.UUID, policy: Policy) -> EventRegistration:
    """On the event's day (bank calendar) only; attendance earns the event's points and any
    event_attended activity, once. 409 check_in_closed, registration_not_seated, already_checked_in."""
    now = policy.now()
    with db.write() as s:
        event = _lock_event(s, event_id)
        reg = _registration(s, event_id, customer_id)
        if reg is None:
            raise registration_not_found(event_id, customer_id)
        if reg.status == "attended":
            raise Conflict("The customer has already checked in", code="already_checked_in")
        if reg.status != "registered":
            raise Conflict(f"The registration is {reg.status}, not a seat", code="registration_not_seated")
        if policy.day_bounds(now) != policy.day_bounds(event.starts_at) or now > event.ends_at:
            raise Conflict("Check-in is open on the day of the event only", code="check_in_closed")
        reg.status, reg.checked_in_at, reg.updated_at = "attended", now, now
        account = s.get(PointsAccount, customer_id, with_for_update=True)
        if account is not None and account.status == "active" and event.attendance_points > 0:
            credit(
                s,
                account,
                kind="earn",
                points=event.attendance_points,
                policy=policy,
                posting=Posting(source="event_attendance", source_ref=str(event.id), dedupe_key=f"attend:{reg.id}"),
            )
        awards_for_trigger(s, customer_id, "event_attended", str(reg.id), policy)
        commit(s, policy)
        return reg
