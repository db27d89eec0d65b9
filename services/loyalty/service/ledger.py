"""The points ledger: every change of a balance is one appended entry, the stored balance moved in
the same transaction under the account's row lock, credits kept as lots that debits consume
oldest expiry first. Callers hold the unit of work; these functions never commit."""

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.common.db import insert_rows, next_ids_on_sqlite, table_of, update_rows, utcnow
from services.common.errors import Conflict, NotFound
from services.common.outbox import record_event, serialise_outbox_writes
from services.loyalty.models import LedgerEntry, LedgerEntryKey, PointsAccount, PointsAllocation, PointsLot, outbox
from services.loyalty.service.policy import Effect, Policy

# The field name bound into a ledger reason's ciphertext (frozen in the migration that sealed old rows).
REASON_FIELD = "points_ledger_entry.reason"


def account_not_found(customer_id) -> NotFound:
    return NotFound(f"No points account for customer {customer_id}", code="account_not_found")


def lock_account(s: Session, customer_id: uuid.UUID) -> PointsAccount:
    """The account row, locked until commit (FOR UPDATE on PostgreSQL; SQLite has one writer)."""
    orm_takes(s, customer_id)
    account = s.get(PointsAccount, customer_id, with_for_update=True, populate_existing=True)
    if account is None:
        raise account_not_found(customer_id)
    return account


def require_active(account: PointsAccount) -> None:
    if account.status != "active":
        raise Conflict(f"The points account of {account.customer_id} is frozen", code="account_frozen")


def add_effect(s: Session, effect: Effect) -> None:
    s.info.setdefault("effects", []).append(effect)


def commit(s: Session, policy: Policy) -> None:
    """Commits, then publishes the metric effects the transaction recorded (never before)."""
    s.commit()
    for effect in s.info.pop("effects", []):
        policy.sink(effect)


def dedupe_exists(s: Session, key: str) -> bool:
    flush_credits(s)
    return s.execute(select(LedgerEntryKey.id).where(LedgerEntryKey.dedupe_key == key)).first() is not None


def defer_outbox(s: Session) -> None:
    """From now on the unit of work's points events are collected in order and written by flush_outbox
    with one executemany (and, on PostgreSQL, one outbox lock) instead of one insert each."""
    s.info.setdefault("outbox_rows", [])


def flush_outbox(s: Session) -> None:
    flush_credits(s)  # their events name the entries they write
    rows = s.info.pop("outbox_rows", None)
    if not rows:
        return
    random = os.urandom(16 * len(rows))  # the event ids: one system call, not one per event
    for i, row in enumerate(rows):
        row["event_id"] = str(uuid.UUID(bytes=random[16 * i : 16 * i + 16], version=4))
    serialise_outbox_writes(s, outbox)
    insert_rows(s, outbox, rows)  # in order: their positions follow it


def _record(s: Session, *, type: str, subject_id: str, data: dict[str, Any]) -> None:
    rows = s.info.get("outbox_rows")
    if rows is None:
        record_event(s, outbox, type=type, subject_id=subject_id, data=data)
    else:
        rows.append(
            {
                "event_id": None,  # given by flush_outbox
                "type": type,
                "occurred_at": utcnow(),
                "subject_id": subject_id,
                "data": data,
            }
        )


@dataclass(frozen=True)
class Posting:
    source: str
    source_ref: str | None = None
    dedupe_key: str | None = None
    reason: str | None = None
    actor_sub: str | None = None
    rule_id: uuid.UUID | None = None
    rule_version: int | None = None


def _append(
    s: Session, account: PointsAccount, kind: str, points: int, posting: Posting, at: datetime, policy: Policy
) -> LedgerEntry:
    """The entry, its typed reason sealed (free text is personal data: docs/privacy.md)."""
    flush_credits(s)  # entries are numbered in the order they are made
    now = policy.now()
    account.balance += points
    account.updated_at = now
    # The key first: it numbers the entry and refuses a second use of the dedupe key.
    key = LedgerEntryKey(dedupe_key=posting.dedupe_key)
    s.add(key)
    s.flush()
    entry = LedgerEntry(
        id=key.id,
        customer_id=account.customer_id,
        kind=kind,
        points=points,
        balance_after=account.balance,
        source=posting.source,
        source_ref=posting.source_ref,
        dedupe_key=posting.dedupe_key,
        rule_id=posting.rule_id,
        rule_version=posting.rule_version,
        reason=policy.vault.seal(posting.reason, REASON_FIELD),
        actor_sub=posting.actor_sub,
        occurred_at=at,
        created_at=now,
    )
    s.add(entry)
    s.flush()
    return entry


def credit(
    s: Session,
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    posting: Posting,
    policy: Policy,
    at: datetime | None = None,
) -> LedgerEntry:
    """Adds points as a new lot expiring per policy from `at` (the business time, default now).
    Records points.earned."""
    now = policy.now()
    at = at or now
    entry = _append(s, account, kind, points, posting, at, policy)
    s.add(
        PointsLot(
            id=entry.id,
            customer_id=account.customer_id,
            points=points,
            remaining=points,
            expires_at=policy.expires_at(at),
        )
    )
    if kind == "earn":
        account.lifetime_earned += points
    add_effect(s, ("issued", posting.source, points))
    _record(
        s,
        type="points.earned",
        subject_id=str(account.customer_id),
        data={
            "entry_id": entry.id,
            "points": points,
            "source": posting.source,
            "source_ref": posting.source_ref,
            "balance": account.balance,
        },
    )
    return entry


class AccountRow:
    """A points account as a consumer batch's earnings read and move it, without the ORM: loaded and
    locked for the batch (earning.hold_accounts), written back by flush_credits. While a customer has
    one, the batch's ORM code does not touch that account: orm_takes hands it over first."""

    __slots__ = ("balance", "customer_id", "lifetime_earned", "status", "updated_at")

    def __init__(self, customer_id: uuid.UUID, status: str, balance: int, lifetime_earned: int):
        self.customer_id, self.status = customer_id, status
        self.balance, self.lifetime_earned = balance, lifetime_earned
        self.updated_at: datetime | None = None  # set when moved: the row is written back


def account_rows(s: Session) -> dict[uuid.UUID, AccountRow]:
    return s.info.setdefault("account_rows", {})


def orm_takes(s: Session, customer_id: uuid.UUID) -> None:
    """Before the ORM reads or locks this account in the unit of work: its AccountRow (if any) is
    written and given up, so the ORM reads what the batch's earnings left."""
    rows = s.info.get("account_rows")
    if rows and customer_id in rows:
        flush_credits(s)
        del rows[customer_id]


def release_accounts(s: Session) -> list[uuid.UUID]:
    """Writes every deferred credit and AccountRow and gives the rows up (returned: the customers, for
    the caller to lock through the ORM), before code that may read any account or ledger row."""
    flush_credits(s)
    rows = s.info.pop("account_rows", None) or {}
    s.info.pop("accounts_absent", None)  # an account may be opened now
    return list(rows)


def defer_credits(s: Session) -> None:
    """From now on the unit of work's credits made by post_credit are collected in order and written by
    flush_credits (which flush_outbox, and any other ledger write or read here, calls first) with a few
    statements (the keys, the entries, the lots) instead of two flushes each. The account's balance
    moves at once, so each credit's balance_after, event and caps read as if it had been written."""
    defer_outbox(s)
    s.info.setdefault("credit_rows", [])


def post_credit(
    s: Session,
    account: PointsAccount | AccountRow,
    *,
    kind: str,
    points: int,
    posting: Posting,
    policy: Policy,
    at: datetime,
) -> None:
    """credit(), deferred to flush_credits when the unit of work defers credits (defer_credits); the
    only way to credit an AccountRow."""
    rows = s.info.get("credit_rows")
    if rows is None or "outbox_rows" not in s.info:
        assert isinstance(account, PointsAccount), "an AccountRow is moved only by deferred credits"
        credit(s, account, kind=kind, points=points, posting=posting, policy=policy, at=at)
        return
    now = policy.now()
    account.balance += points
    account.updated_at = now
    if kind == "earn":
        account.lifetime_earned += points
    entry = {
        "customer_id": account.customer_id,
        "kind": kind,
        "points": points,
        "balance_after": account.balance,
        "source": posting.source,
        "source_ref": posting.source_ref,
        "dedupe_key": posting.dedupe_key,
        "rule_id": posting.rule_id,
        "rule_version": posting.rule_version,
        "reason": policy.vault.seal(posting.reason, REASON_FIELD),
        "actor_sub": posting.actor_sub,
        "occurred_at": at,
        "created_at": now,
    }
    lot = {
        "customer_id": account.customer_id,
        "points": points,
        "remaining": points,
        "expires_at": policy.expires_at(at),
    }
    data = {
        "entry_id": None,  # numbered by flush_credits, before the outbox is written
        "points": points,
        "source": posting.source,
        "source_ref": posting.source_ref,
        "balance": account.balance,
    }
    rows.append((entry, lot, data))
    add_effect(s, ("issued", posting.source, points))
    _record(s, type="points.earned", subject_id=str(account.customer_id), data=data)


def flush_credits(s: Session) -> None:
    """Writes the credits post_credit deferred, in the order they were made: their keys (numbering
    them, and refusing a dedupe key used before), entries and lots, one statement each."""
    rows = s.info.get("credit_rows")
    if not rows:
        return
    s.info["credit_rows"] = []
    ids = _number_entries(s, [entry["dedupe_key"] for entry, _, _ in rows])
    for entry_id, (entry, lot, data) in zip(ids, rows, strict=True):
        entry["id"] = lot["id"] = data["entry_id"] = entry_id
    insert_rows(s, table_of(LedgerEntry), [entry for entry, _, _ in rows])
    insert_rows(s, table_of(PointsLot), [lot for _, lot, _ in rows])
    moved = [a for a in s.info.get("account_rows", {}).values() if a.updated_at is not None]
    written = [
        {"customer_id": a.customer_id, "balance": a.balance, "lifetime_earned": a.lifetime_earned, "updated_at": when}
        for a in moved
        if (when := a.updated_at) is not None
    ]
    update_rows(s, table_of(PointsAccount), "customer_id", written)
    for a in moved:
        a.updated_at = None


def _number_entries(s: Session, dedupe_keys: list[str | None]) -> list[int]:
    """Inserts a LedgerEntryKey for each dedupe key and returns their ids, in the same order."""
    keys = table_of(LedgerEntryKey)
    if s.get_bind().dialect.name == "postgresql":  # the ids from the key's own sequence, in one query
        stmt = text(
            "SELECT nextval(pg_get_serial_sequence('points_ledger_entry_key', 'id')) FROM generate_series(1, :n)"
        )
        ids = sorted(s.execute(stmt, {"n": len(dedupe_keys)}).scalars())
    else:
        ids = next_ids_on_sqlite(s, keys.c.id, len(dedupe_keys))
    insert_rows(s, keys, [{"id": i, "dedupe_key": k} for i, k in zip(ids, dedupe_keys, strict=True)])
    return ids


def expire_due(s: Session, account: PointsAccount, policy: Policy) -> int:
    """Writes one expire entry for the account's lots past their expiry; returns the points expired."""
    flush_credits(s)
    now = policy.now()
    lots = list(
        s.execute(
            select(PointsLot)
            .where(PointsLot.customer_id == account.customer_id, PointsLot.remaining > 0, PointsLot.expires_at <= now)
            .order_by(PointsLot.expires_at, PointsLot.id)
        ).scalars()
    )
    total = sum(lot.remaining for lot in lots)
    if total == 0:
        return 0
    entry = _append(s, account, "expire", -total, Posting(source="expiry"), now, policy)
    for lot in lots:
        s.add(PointsAllocation(entry_id=entry.id, lot_id=lot.id, points=lot.remaining))
        lot.remaining = 0
    add_effect(s, ("expired", "", total))
    _record(
        s,
        type="points.expired",
        subject_id=str(account.customer_id),
        data={"entry_id": entry.id, "points": total, "balance": account.balance},
    )
    return total


def debit(
    s: Session,
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    posting: Posting,
    policy: Policy,
    prefer_lot: int | None = None,
    on_feed: bool = True,
) -> LedgerEntry:
    """Takes `points` (> 0) from the oldest-expiring lots after expiring what is due; 409
    points_insufficient when the balance cannot cover it, so no balance ever goes negative.
    Records points.debited with the new balance, unless `on_feed` is False because the caller
    records a richer event of its own with the balance (a redemption's points.redeemed)."""
    expire_due(s, account, policy)
    if account.balance < points:
        raise Conflict(
            f"The balance is {account.balance} points; {points} are needed",
            code="points_insufficient",
            balance=account.balance,
        )
    now = policy.now()
    entry = _append(s, account, kind, -points, posting, now, policy)
    lots = list(
        s.execute(
            select(PointsLot)
            .where(PointsLot.customer_id == account.customer_id, PointsLot.remaining > 0)
            .order_by(PointsLot.expires_at, PointsLot.id)
        ).scalars()
    )
    if prefer_lot is not None:
        lots.sort(key=lambda lot: lot.id != prefer_lot)
    left = points
    for lot in lots:
        take = min(left, lot.remaining)
        lot.remaining -= take
        s.add(PointsAllocation(entry_id=entry.id, lot_id=lot.id, points=take))
        left -= take
        if left == 0:
            break
    assert left == 0, "lots out of step with the balance"
    if on_feed:
        _record_movement(s, "points.debited", account, entry, kind, points, posting)
    return entry


def _record_movement(
    s: Session, type: str, account: PointsAccount, entry: LedgerEntry, kind: str, points: int, posting: Posting
) -> None:
    """A ledger movement on the feed with the balance it leaves, so every copy of the balance follows."""
    data = {"entry_id": entry.id, "kind": kind, "points": points, "source": posting.source}
    data |= {"source_ref": posting.source_ref, "balance": account.balance}
    _record(s, type=type, subject_id=str(account.customer_id), data=data)


def restore(
    s: Session, account: PointsAccount, debit_entry_id: int, *, posting: Posting, policy: Policy
) -> LedgerEntry:
    """Gives a debit's points back to the very lots it took them from (a `reverse` entry); points
    whose lot has since expired go back too and expire at the next expiry run. Records
    points.restored with the new balance."""
    allocations = list(s.execute(select(PointsAllocation).where(PointsAllocation.entry_id == debit_entry_id)).scalars())
    points = sum(a.points for a in allocations)
    now = policy.now()
    entry = _append(s, account, "reverse", points, posting, now, policy)
    for a in allocations:
        lot = s.get(PointsLot, a.lot_id)
        assert lot is not None  # an allocation's lot is never deleted
        lot.remaining += a.points
    _record_movement(s, "points.restored", account, entry, "reverse", points, posting)
    return entry
