"""Branch scope in loyalty: a customer's branch is the copy of profile's customer events
(customer_branch); a customer loyalty has not heard of from profile yet has no branch, so it is out
of every staff member's reach (404) until the feed brings it, and within reach of the head office's
admin and of system callers."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from services.common.branch_scope import in_reach
from services.common.db import upsert_insert
from services.common.outbox import Event
from services.loyalty.models import CustomerBranch

CUSTOMER_EVENTS = ("customer.registered", "customer.updated")


def customer_branch(s: Session, customer_id: uuid.UUID) -> str | None:
    """The customer's branch code as loyalty knows it (None: not known)."""
    return s.execute(select(CustomerBranch.branch_code).where(CustomerBranch.customer_id == customer_id)).scalar()


def customer_in_reach(column: Any, reach: set[str] | None) -> ColumnElement[bool]:
    """The SQL condition that keeps rows whose customer (`column`) belongs to a branch in `reach` (a
    `Reach` value; None: every row, a customer without a known branch included)."""
    if reach is None:
        return true()
    return column.in_(select(CustomerBranch.customer_id).where(in_reach(CustomerBranch.branch_code, reach)))


def place_customer(s: Session, customer_id: uuid.UUID, branch_code: str, at: Any) -> None:
    """Records (or moves) the customer's branch."""
    stmt = upsert_insert(s)(CustomerBranch).values(customer_id=customer_id, branch_code=branch_code, updated_at=at)
    s.execute(
        stmt.on_conflict_do_update(index_elements=["customer_id"], set_={"branch_code": branch_code, "updated_at": at})
    )


def on_customer_event(s: Session, event: Event) -> None:
    """customer.registered carries the branch; customer.updated carries it when it changed."""
    code = event.data.get("branch_code")
    if not isinstance(code, str) or not code:
        return
    try:
        customer_id = uuid.UUID(event.subject_id)
    except ValueError:
        return
    place_customer(s, customer_id, code, event.occurred_at)


def customer_handlers() -> dict[str, Any]:
    return dict.fromkeys(CUSTOMER_EVENTS, on_customer_event)
