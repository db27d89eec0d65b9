"""Points accounts: enrolment, freezing, reads, the statement, what is expiring, staff adjustments,
and the check that every stored balance agrees with its ledger and its lots."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.errors import Conflict
from services.common.pagination import id_key, newest_id_first, page_of
from services.loyalty.models import (
    CustomerSegment,
    LedgerEntry,
    PointsAccount,
    PointsLot,
)
from services.loyalty.service.branch_scope import customer_in_reach
from services.loyalty.service.ledger import (
    account_not_found,
    commit,
)
from services.loyalty.service.policy import Policy


def get_account(s: Session, customer_id: uuid.UUID) -> PointsAccount | None:
    return s.get(PointsAccount, customer_id)


def ensure_account(s: Session, customer_id: uuid.UUID, *, via: str, policy: Policy) -> PointsAccount:
    """The account, created (active) when absent; an existing account is returned as it is."""
    account = s.get(PointsAccount, customer_id)
    if account is None:
        now = policy.now()
        account = PointsAccount(customer_id=customer_id, enrolled_via=via, enrolled_at=now, updated_at=now)
        s.add(account)
        s.flush()
    return account


def enrol_customer(db: Database, *, customer_id: uuid.UUID, policy: Policy) -> PointsAccount:
    """409 account_exists when the customer is already enrolled."""
    with db.write() as s:
        if s.get(PointsAccount, customer_id) is not None:
            raise Conflict(f"Customer {customer_id} is already enrolled", code="account_exists")
        account = ensure_account(s, customer_id, via="staff", policy=policy)
        commit(s, policy)
        return account


def freeze_account(s: Session, customer_id: uuid.UUID, *, reason: str, policy: Policy) -> None:
    account = s.get(PointsAccount, customer_id, with_for_update=True)
    if account is not None and account.status != "frozen":
        account.status, account.frozen_at, account.frozen_reason = "frozen", policy.now(), reason
        account.updated_at = policy.now()


def read_account(db: Database, *, customer_id: uuid.UUID) -> PointsAccount:
    with db.read() as s:
        account = s.get(PointsAccount, customer_id)
    if account is None:
        raise account_not_found(customer_id)
    return account


def segments_of(s: Session, customer_id: uuid.UUID) -> set[str]:
    rows = s.execute(
        select(CustomerSegment.scheme, CustomerSegment.class_name).where(CustomerSegment.customer_id == customer_id)
    )
    return {f"{scheme}:{cls}" for scheme, cls in rows}


@dataclass(frozen=True)
class Window:
    """occurred_at from (inclusive) to (exclusive), either open; on PostgreSQL the ledger's monthly
    partitions outside it are not read."""

    start: datetime | None = None
    end: datetime | None = None


def statement_query(customer_id: uuid.UUID, window: Window, cursor: str | None, limit: int) -> Select[Any]:
    query = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id)
    if window.start is not None:
        query = query.where(LedgerEntry.occurred_at >= window.start)
    if window.end is not None:
        query = query.where(LedgerEntry.occurred_at < window.end)
    return newest_id_first(query, LedgerEntry.id, cursor, limit)


def statement(
    db: Database, *, customer_id: uuid.UUID, limit: int, cursor: str | None, window: Window = Window()
) -> tuple[list[LedgerEntry], str | None]:
    """Entries newest first, each with the balance right after it."""
    stmt = statement_query(customer_id, window, cursor, limit)
    with db.read() as s:
        if s.get(PointsAccount, customer_id) is None:
            raise account_not_found(customer_id)
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, key=id_key)


@dataclass(frozen=True)
class Expiring:
    as_of: datetime
    until: datetime
    total: int
    lots: list[PointsLot]


def expiring(db: Database, *, customer_id: uuid.UUID, within_days: int, policy: Policy) -> Expiring:
    now = policy.now()
    until = now + timedelta(days=within_days)
    with db.read() as s:
        if s.get(PointsAccount, customer_id) is None:
            raise account_not_found(customer_id)
        lots = list(
            s.execute(
                select(PointsLot)
                .where(PointsLot.customer_id == customer_id, PointsLot.remaining > 0, PointsLot.expires_at <= until)
                .order_by(PointsLot.expires_at, PointsLot.id)
            ).scalars()
        )
    return Expiring(as_of=now, until=until, total=sum(lot.remaining for lot in lots), lots=lots)


@dataclass(frozen=True)
class Mismatch:
    customer_id: uuid.UUID
    stored: int
    ledger: int
    lots: int


def check_balances(db: Database, reach: set[str] | None = None) -> tuple[int, list[Mismatch]]:
    """Every account's stored balance against the sum of its ledger and of its lots' remaining points,
    for the customers of the branches in `reach` (None: every account). Returns (accounts checked,
    mismatches)."""
    kept = partial(customer_in_reach, reach=reach)
    with db.read() as s:
        ledger: dict[uuid.UUID, int] = dict(
            s.execute(
                select(LedgerEntry.customer_id, func.sum(LedgerEntry.points))
                .where(kept(LedgerEntry.customer_id))
                .group_by(LedgerEntry.customer_id)
            ).all()
        )
        lots: dict[uuid.UUID, int] = dict(
            s.execute(
                select(PointsLot.customer_id, func.sum(PointsLot.remaining))
                .where(kept(PointsLot.customer_id))
                .group_by(PointsLot.customer_id)
            ).all()
        )
        accounts = s.execute(
            select(PointsAccount.customer_id, PointsAccount.balance).where(kept(PointsAccount.customer_id))
        ).all()
    bad = [
        Mismatch(cid, bal, int(ledger.get(cid) or 0), int(lots.get(cid) or 0))
        for cid, bal in accounts
        if not bal == int(ledger.get(cid) or 0) == int(lots.get(cid) or 0)
    ]
    return len(accounts), bad
