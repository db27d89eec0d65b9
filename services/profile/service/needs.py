"""Stated needs and holdings: a customer (or staff for them) states their needs; core banking reports the
products they hold. Each write is one transaction with its feed event (customer.needs_stated,
holding.changed), which segmentation reads to tailor recommendations and never offer what is held."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import InvalidInput, NotFound
from services.profile.models import CustomerNeeds, Holding
from services.profile.schemas.needs import HoldingIn, HoldingList, HoldingRead, NeedsIn, NeedsRead
from services.profile.service.events import record_events
from services.profile.service.guards import require_active_customer, require_customer_row


def _z(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def needs_not_stated(customer_id: uuid.UUID) -> NotFound:
    return NotFound(f"Customer {customer_id} has not stated their needs", code="needs_not_stated")


def state_needs(
    db: Database, *, customer_id: uuid.UUID, needs_in: NeedsIn, actor: Principal, now: datetime
) -> tuple[NeedsRead, bool]:
    """Replaces the customer's stated needs; (the needs, whether they were stated for the first time).
    Records customer.needs_stated when anything changed."""
    with db.write() as s:
        require_active_customer(s, customer_id)
        row = s.get(CustomerNeeds, customer_id)
        created = row is None
        values = needs_in.model_dump()
        if row is None:
            row = CustomerNeeds(customer_id=customer_id, stated_by_role=actor.role, stated_at=now, **values)
            s.add(row)
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.stated_by_role, row.stated_at, row.revision = actor.role, now, row.revision + 1
        else:
            return NeedsRead.model_validate(row), False
        s.flush()
        record_events(s, [("customer.needs_stated", str(customer_id), {**values, "stated_at": _z(row.stated_at)})], now)
        s.commit()
        return NeedsRead.model_validate(row), created


def get_needs(db: Database, *, customer_id: uuid.UUID) -> NeedsRead:
    with db.read() as s:
        require_customer_row(s, customer_id)
        row = s.get(CustomerNeeds, customer_id)
        if row is None:
            raise needs_not_stated(customer_id)
        return NeedsRead.model_validate(row)


def _check_holding(h: HoldingIn) -> None:
    errors = []
    if h.status == "closed" and h.closed_on is None:
        errors.append(
            {"loc": ["body", "closed_on"], "msg": "a closed holding needs its closing date", "type": "missing"}
        )
    if h.status == "held" and h.closed_on is not None:
        errors.append({"loc": ["body", "closed_on"], "msg": "only a closed holding has one", "type": "value_error"})
    if h.closed_on is not None and h.closed_on < h.opened_on:
        errors.append({"loc": ["body", "closed_on"], "msg": "must not be before opened_on", "type": "value_error"})
    if errors:
        raise InvalidInput(errors)


def _event(h: Holding) -> tuple[str, str, dict]:
    data = {
        "holding_id": str(h.id),
        "product_code": h.product_code,
        "category": h.category,
        "status": h.status,
        "opened_on": h.opened_on.isoformat(),
        "matures_on": h.matures_on.isoformat() if h.matures_on else None,
        "closed_on": h.closed_on.isoformat() if h.closed_on else None,
    }
    return ("holding.changed", str(h.customer_id), data)


def put_holding(
    db: Database, *, customer_id: uuid.UUID, holding_ref: str, holding_in: HoldingIn, now: datetime
) -> tuple[HoldingRead, bool]:
    """Creates or replaces the holding core banking knows as `holding_ref`; (the holding, created).
    The same report twice changes nothing and records nothing; a change records holding.changed."""
    _check_holding(holding_in)
    with db.write() as s:
        require_customer_row(s, customer_id, lock=True)
        h = _holding(s, customer_id, holding_ref)
        created = h is None
        values = holding_in.model_dump()
        if h is None:
            require_active_customer(s, customer_id, lock=False)
            h = Holding(customer_id=customer_id, holding_ref=holding_ref, updated_at=now, **values)
            s.add(h)
        elif any(getattr(h, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(h, k, v)
            h.updated_at = now
        else:
            return HoldingRead.model_validate(h), False
        s.flush()
        record_events(s, [_event(h)], now)
        s.commit()
        return HoldingRead.model_validate(h), created


def _holding(s: Session, customer_id: uuid.UUID, holding_ref: str) -> Holding | None:
    return s.execute(
        select(Holding).where(Holding.customer_id == customer_id, Holding.holding_ref == holding_ref)
    ).scalar_one_or_none()


def list_holdings(db: Database, *, customer_id: uuid.UUID, held_only: bool) -> HoldingList:
    """Every holding of the customer (a customer holds tens at most), by opening date."""
    stmt = select(Holding).where(Holding.customer_id == customer_id)
    if held_only:
        stmt = stmt.where(Holding.status == "held")
    with db.read() as s:
        require_customer_row(s, customer_id)
        rows = s.execute(stmt.order_by(Holding.opened_on, Holding.holding_ref)).scalars().all()  # type: ignore[arg-type]
        return HoldingList(customer_id=customer_id, items=[HoldingRead.model_validate(h) for h in rows])
