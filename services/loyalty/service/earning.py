"""Scoring: a transaction is scored by every earning-rule version in force at its time that matches
its kind and channel, with the rule's multipliers, minimum amount and daily and monthly caps per
customer; claw-back of what a reversed transaction earned."""

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.db import chunk_size, in_values
from services.loyalty.models import EarningRuleVersion, LedgerEntry, PointsAccount
from services.loyalty.service.accounts import segments_of
from services.loyalty.service.ledger import (
    AccountRow,
    Posting,
    account_rows,
    debit,
    dedupe_exists,
    expire_due,
    flush_credits,
    orm_takes,
    post_credit,
)
from services.loyalty.service.policy import Policy

# A ceiling no real transaction reaches; it keeps a freak amount or stacked multipliers in range.
MAX_POINTS_PER_TRANSACTION = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RuleVersion:
    """An earning-rule version as scoring reads it: plain values, loaded once per unit of work."""

    rule_id: uuid.UUID
    version: int
    channel: str | None
    points_per_100_cny: int
    min_amount_fen: int
    daily_cap: int | None
    monthly_cap: int | None
    multipliers: list[dict[str, Any]]
    valid_from: datetime
    valid_until: datetime | None


RULE_VERSION_COLUMNS = tuple(getattr(EarningRuleVersion, f.name) for f in fields(RuleVersion))


def _rules_in_force(s: Session, kind: str, channel: str, at: datetime) -> list[RuleVersion]:
    cache = s.info.setdefault("rule_versions", {})
    if (kind, channel) not in cache:  # one load per unit of work (a consumer batch)
        if kind not in cache:
            stmt = select(*RULE_VERSION_COLUMNS).where(EarningRuleVersion.kind == kind)
            cache[kind] = [RuleVersion(*row) for row in s.execute(stmt)]
        cache[kind, channel] = [v for v in cache[kind] if v.channel is None or v.channel == channel]
    return [v for v in cache[kind, channel] if v.valid_from <= at and (v.valid_until is None or at < v.valid_until)]


def raw_points(amount_fen: int, version: RuleVersion, channel: str, segments: set[str] | None) -> int:
    """amount in fen x points per 100 CNY x every applicable multiplier, rounded down; integers only."""
    numerator, denominator = amount_fen * version.points_per_100_cny, 10_000
    for m in version.multipliers:
        if m.get("channel") and m["channel"] != channel:
            continue
        if m.get("segment") and (segments is None or m["segment"] not in segments):
            continue
        numerator, denominator = numerator * m["factor_pct"], denominator * 100
    return min(numerator // denominator, MAX_POINTS_PER_TRANSACTION)


def _earned_between(s: Session, customer_id: uuid.UUID, rule_id: uuid.UUID, bounds: tuple[datetime, datetime]) -> int:
    """Points the rule earned the customer in [bounds); loaded once per unit of work (a consumer batch)
    and kept current by _note_earned, the only writer of rule-scored earn entries."""
    totals = s.info.setdefault("earned_between", {}).setdefault((customer_id, rule_id), {})
    if bounds not in totals:
        flush_credits(s)
        totals[bounds] = int(
            s.execute(
                select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                    LedgerEntry.customer_id == customer_id,
                    LedgerEntry.rule_id == rule_id,
                    LedgerEntry.kind == "earn",
                    LedgerEntry.occurred_at >= bounds[0],
                    LedgerEntry.occurred_at < bounds[1],
                )
            ).scalar_one()
        )
    return totals[bounds]


def _note_earned(s: Session, customer_id: uuid.UUID, rule_id: uuid.UUID, at: datetime, points: int) -> None:
    totals = s.info.setdefault("earned_between", {}).get((customer_id, rule_id), {})
    for bounds in totals:
        if bounds[0] <= at < bounds[1]:
            totals[bounds] += points


def preload_earned(s: Session, batch: list[tuple[uuid.UUID, "Transaction"]], policy: Policy) -> None:
    """Loads, with one grouped query per (rule, day or month), the cap totals a batch of transactions
    will look up, so scoring does not query once per transaction. Call before the batch writes."""
    wanted: dict[tuple[uuid.UUID, tuple[datetime, datetime]], set[uuid.UUID]] = {}
    for customer_id, txn in batch:
        for v in _rules_in_force(s, txn.kind, txn.channel, txn.occurred_at):
            for cap, bounds in ((v.daily_cap, policy.day_bounds), (v.monthly_cap, policy.month_bounds)):
                if cap is not None:
                    wanted.setdefault((v.rule_id, bounds(txn.occurred_at)), set()).add(customer_id)
    cache = s.info.setdefault("earned_between", {})
    for (rule_id, window), customers in wanted.items():
        todo = sorted(c for c in customers if window not in cache.get((c, rule_id), {}))
        for i in range(0, len(todo), chunk_size(s)):
            chunk = todo[i : i + chunk_size(s)]
            found: dict[uuid.UUID, int] = dict(
                s.execute(
                    select(LedgerEntry.customer_id, func.sum(LedgerEntry.points))
                    .where(
                        in_values(s, LedgerEntry.customer_id, chunk),
                        LedgerEntry.rule_id == rule_id,
                        LedgerEntry.kind == "earn",
                        LedgerEntry.occurred_at >= window[0],
                        LedgerEntry.occurred_at < window[1],
                    )
                    .group_by(LedgerEntry.customer_id)
                ).all()
            )
            for c in chunk:
                cache.setdefault((c, rule_id), {})[window] = int(found.get(c) or 0)


def locked_account(s: Session, customer_id: uuid.UUID) -> PointsAccount | None:
    """The account row locked for this unit of work (FOR UPDATE on PostgreSQL): queried once, then held
    by the session (the identity map alone holds weakly). prelock_accounts locks a batch's accounts at once."""
    orm_takes(s, customer_id)
    held = s.info.setdefault("locked_accounts", {})
    account = held.get(customer_id)
    if account is None:
        account = s.get(PointsAccount, customer_id, with_for_update=True, populate_existing=True)
        if account is not None:
            held[customer_id] = account
    return account


def prelock_accounts(s: Session, customer_ids: set[uuid.UUID] | list[uuid.UUID]) -> None:
    """Loads and locks (in key order, on PostgreSQL) the accounts of these customers, one query per chunk_size."""
    held = s.info.setdefault("locked_accounts", {})
    wanted = sorted(set(customer_ids) - held.keys())
    for i in range(0, len(wanted), chunk_size(s)):
        stmt = (
            select(PointsAccount)
            .where(in_values(s, PointsAccount.customer_id, wanted[i : i + chunk_size(s)]))
            .order_by(PointsAccount.customer_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        held.update((a.customer_id, a) for a in s.execute(stmt).scalars())


def hold_accounts(s: Session, customer_ids: set[uuid.UUID]) -> None:
    """prelock_accounts for a batch's earnings, without the ORM: the accounts of these customers that the
    unit of work's ORM does not hold already are loaded and locked (in key order) as AccountRows, one
    query per chunk_size, and those not found are noted, so that scoring asks for neither again."""
    held = s.info.setdefault("locked_accounts", {})
    in_orm = {a.customer_id for a in s.identity_map.values() if isinstance(a, PointsAccount)}
    rows = account_rows(s)
    absent = s.info.setdefault("accounts_absent", set())
    wanted = sorted(customer_ids - held.keys() - in_orm - rows.keys() - absent)
    columns = (PointsAccount.customer_id, PointsAccount.status, PointsAccount.balance, PointsAccount.lifetime_earned)
    for i in range(0, len(wanted), chunk_size(s)):
        chunk = wanted[i : i + chunk_size(s)]
        stmt = (
            select(*columns)
            .where(in_values(s, PointsAccount.customer_id, chunk))
            .order_by(PointsAccount.customer_id)
            .with_for_update()
        )
        for customer_id, status, balance, lifetime_earned in s.execute(stmt):
            rows[customer_id] = AccountRow(customer_id, status, balance, lifetime_earned)
        absent.update(c for c in chunk if c not in rows)


def earning_account(s: Session, customer_id: uuid.UUID) -> PointsAccount | AccountRow | None:
    """The account a transaction earns on: the batch's AccountRow, else the ORM's locked row."""
    row = s.info.get("account_rows", {}).get(customer_id)
    if row is not None:
        return row
    if customer_id in s.info.get("accounts_absent", ()):
        return None
    return locked_account(s, customer_id)


def _capped(s: Session, customer_id: uuid.UUID, v: RuleVersion, points: int, at: datetime, policy: Policy) -> int:
    if v.daily_cap is not None:
        points = min(points, v.daily_cap - _earned_between(s, customer_id, v.rule_id, policy.day_bounds(at)))
    if v.monthly_cap is not None:
        points = min(points, v.monthly_cap - _earned_between(s, customer_id, v.rule_id, policy.month_bounds(at)))
    return points


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    external_id: str
    kind: str
    amount_fen: int
    channel: str
    occurred_at: datetime
    reverses_external_id: str | None


def earn_for_transaction(s: Session, customer_id: uuid.UUID, txn: Transaction, policy: Policy) -> int:
    """Points for one transaction, once per rule (dedupe key per transaction and rule); nothing for
    an unenrolled or frozen customer. Returns the points credited. The caller commits."""
    account = earning_account(s, customer_id)
    if account is None or account.status != "active":
        return 0
    versions = _rules_in_force(s, txn.kind, txn.channel, txn.occurred_at)
    if not versions:
        return 0
    segments = segments_of(s, customer_id) if any(m.get("segment") for v in versions for m in v.multipliers) else None
    total = 0
    for v in versions:
        if txn.amount_fen < v.min_amount_fen:
            continue
        points = _capped(
            s, customer_id, v, raw_points(txn.amount_fen, v, txn.channel, segments), txn.occurred_at, policy
        )
        if points <= 0:
            continue
        posting = Posting(
            source="transaction",
            source_ref=txn.external_id,
            rule_id=v.rule_id,
            rule_version=v.version,
            dedupe_key=f"txn:{txn.transaction_id}:{v.rule_id}",
        )
        post_credit(s, account, kind="earn", points=points, posting=posting, policy=policy, at=txn.occurred_at)
        _note_earned(s, customer_id, v.rule_id, txn.occurred_at, points)
        total += points
    return total


def claw_back(s: Session, customer_id: uuid.UUID, txn: Transaction, policy: Policy) -> int:
    """A reversal takes back what the original transaction earned, from that transaction's own lot
    first; what the balance can no longer cover is written off (noted in the entry's reason), since
    no balance may go negative. Returns the points taken back."""
    account = locked_account(s, customer_id)
    if account is None or not txn.reverses_external_id:
        return 0
    flush_credits(s)
    earned = list(
        s.execute(
            select(LedgerEntry)
            .where(
                LedgerEntry.customer_id == customer_id,
                LedgerEntry.source == "transaction",
                LedgerEntry.kind == "earn",
                LedgerEntry.source_ref == txn.reverses_external_id,
            )
            .order_by(LedgerEntry.id)
        ).scalars()
    )
    taken = 0
    for original in earned:
        key = f"rev:{original.id}"
        if dedupe_exists(s, key):
            continue
        expire_due(s, account, policy)
        amount = min(original.points, account.balance)
        if amount <= 0:
            continue
        reason = f"reversal {txn.external_id} of {txn.reverses_external_id}"
        if amount < original.points:
            reason += f"; {original.points - amount} points not recoverable"
        posting = Posting(
            source="transaction",
            source_ref=txn.external_id,
            dedupe_key=key,
            reason=reason,
            rule_id=original.rule_id,
            rule_version=original.rule_version,
        )
        debit(s, account, kind="reverse", points=amount, posting=posting, policy=policy, prefer_lot=original.id)
        taken += amount
    return taken
