"""Loyalty's copy of who may be reached, kept from profile's feed (customer.registered/updated/closed/
erased, consent.changed): a customer's branch, whether the customer is active, the do-not-contact flag,
and the channels marketing may use and the channels that reach the customer at all. A launch filters
its audience against this copy in one statement (docs/architecture.md, Campaigns)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from services.common.db import upsert_insert
from services.loyalty.models import CustomerReach


def channels(names: list[str] | None) -> str:
    """The stored form: ",a,b," (so one LIKE '%,a,%' tests membership on both databases)."""
    return "," + ",".join(sorted(set(names or []))) + "," if names else ""


def upsert_reach(s: Session, customer_id: uuid.UUID, at: datetime, **values: Any) -> None:
    """Creates the customer's row or changes the given columns of it."""
    fresh = {"is_active": True, "do_not_contact": False, "marketing_channels": "", "reachable_channels": ""}
    stmt = upsert_insert(s)(CustomerReach).values(customer_id=customer_id, changed_at=at, **(fresh | values))
    s.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_={"changed_at": at, **values}))


def on_registered(s: Session, customer_id: uuid.UUID, data: dict[str, Any], at: datetime) -> None:
    upsert_reach(s, customer_id, at, branch_code=data.get("branch_code"), is_active=data.get("status") != "closed")


def on_updated(s: Session, customer_id: uuid.UUID, data: dict[str, Any], at: datetime) -> None:
    if "branch_code" in (data.get("changed") or []) and data.get("branch_code"):
        upsert_reach(s, customer_id, at, branch_code=data["branch_code"])


def on_closed(s: Session, customer_id: uuid.UUID, at: datetime) -> None:
    upsert_reach(s, customer_id, at, is_active=False, marketing_channels="", reachable_channels="")


def on_consent(s: Session, customer_id: uuid.UUID, data: dict[str, Any], at: datetime) -> None:
    """`contactable_channels` (marketing may use them: consent, a contact point, no flag); the channels with
    a contact point are `reachable_channels` where profile says so, else at least the contactable ones."""
    marketing = list(data.get("contactable_channels") or [])
    reachable = data.get("reachable_channels")
    upsert_reach(
        s,
        customer_id,
        at,
        do_not_contact=bool(data.get("do_not_contact")),
        marketing_channels=channels(marketing),
        reachable_channels=channels(list(reachable) + marketing if reachable is not None else marketing),
    )
