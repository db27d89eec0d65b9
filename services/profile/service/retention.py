"""Retention (PIPL art. 19 and 47): a customer closed longer ago than `retention_closed_customer_years`
is erased as a request would erase them (services.profile.service.rights.erase_customer), so the
other services follow from `customer.erased`. The erasure request records `requested_via`
"retention" and the sweep as who asked. docs/privacy.md, Retention."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict
from services.common.retention import years_before
from services.profile.models import Customer
from services.profile.service.customers import Privacy
from services.profile.service.rights import erase_customer

SWEEPER = Principal(sub="profile-retention-sweep", role="system")
REASON = "Retention period ended: closed more than the configured years ago"


def sweep_retention(db: Database, *, privacy: Privacy, now: datetime, years: int, batch: int = 200) -> int:
    """Erases at most `batch` customers per run (each in its own transaction, as a request's); the
    next run takes the rest. Returns how many were erased."""
    cutoff = years_before(now, years)
    with db.read() as s:
        due: list[uuid.UUID] = list(
            s.scalars(
                select(col(Customer.id))
                .where(
                    col(Customer.status) == "closed",
                    col(Customer.erased_at).is_(None),
                    col(Customer.closed_at) < cutoff,
                )
                .order_by(col(Customer.closed_at))
                .limit(batch)
            )
        )
    erased = 0
    for customer_id in due:
        try:
            erase_customer(
                db,
                customer_id=customer_id,
                reason=REASON,
                requested_via="retention",
                actor=SWEEPER,
                privacy=privacy,
                now=now,
            )
        except Conflict:  # erased by a request meanwhile
            continue
        erased += 1
    return erased
