"""The expiry job: writes expire entries for every account's lots past their expiry date. Safe to
run twice or concurrently: a lot's remaining points drop to zero in the transaction that expires them."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from services.common.db import Database
from services.loyalty.models import PointsLot
from services.loyalty.service.ledger import commit, expire_due, lock_account
from services.loyalty.service.policy import Policy


@dataclass(frozen=True)
class ExpiryRun:
    accounts: int
    points: int


def run_expiry(db: Database, *, policy: Policy) -> ExpiryRun:
    """One short transaction per account, so earning and redemptions are never held up for long."""
    now = policy.now()
    with db.read() as s:
        due: list[uuid.UUID] = list(
            s.execute(
                select(PointsLot.customer_id).where(PointsLot.remaining > 0, PointsLot.expires_at <= now).distinct()
            ).scalars()
        )
    accounts = points = 0
    for customer_id in due:
        with db.write() as s:
            expired = expire_due(s, lock_account(s, customer_id), policy)
            commit(s, policy)
        if expired:
            accounts, points = accounts + 1, points + expired
    return ExpiryRun(accounts=accounts, points=points)
