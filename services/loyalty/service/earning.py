"""Earning rules (data, versioned by time, retired but never deleted) and scoring: a transaction is
scored by every rule version in force at its time that matches its kind and channel, with the
rule's multipliers, minimum amount and daily and monthly caps per customer."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exc, func, select
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.db import Database, is_unique_violation
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.etag import check_version
from services.loyalty.models import EarningRule, EarningRuleVersion, LedgerEntry, PointsAccount
from services.loyalty.service.accounts import segments_of
from services.loyalty.service.ledger import Posting, commit, credit, debit, expire_due
from services.loyalty.service.policy import Policy

# A ceiling no real transaction reaches; it keeps a freak amount or stacked multipliers in range.
MAX_POINTS_PER_TRANSACTION = 1_000_000_000


def rule_not_found(rule_id) -> NotFound:
    return NotFound(f"No earning rule {rule_id}", code="rule_not_found")


@dataclass(frozen=True)
class RuleParams:
    """Multipliers: [{"channel": "mobile" | None, "segment": "scheme:class" | None, "factor_pct": 200}]."""

    kind: str
    channel: str | None
    points_per_100_cny: int
    min_amount_fen: int
    daily_cap: int | None
    monthly_cap: int | None
    multipliers: list[dict[str, Any]]
    valid_from: datetime | None
    valid_until: datetime | None


def _check_window(start: datetime, until: datetime | None) -> None:
    if until is not None and until <= start:
        raise InvalidInput([{"loc": ["body", "valid_until"], "msg": "must be after valid_from", "type": "window"}])


def _version(
    rule: EarningRule, number: int, params: RuleParams, start: datetime, actor: Principal, now: datetime
) -> EarningRuleVersion:
    return EarningRuleVersion(
        rule_id=rule.id,
        version=number,
        kind=params.kind,
        channel=params.channel,
        points_per_100_cny=params.points_per_100_cny,
        min_amount_fen=params.min_amount_fen,
        daily_cap=params.daily_cap,
        monthly_cap=params.monthly_cap,
        multipliers=params.multipliers,
        valid_from=start,
        valid_until=params.valid_until,
        actor_sub=actor.sub,
        created_at=now,
    )


def create_rule(
    db: Database, *, code: str, name: str, params: RuleParams, actor: Principal, policy: Policy
) -> tuple[EarningRule, list[EarningRuleVersion]]:
    """409 rule_code_taken when the code exists."""
    now = policy.now()
    start = params.valid_from or now
    _check_window(start, params.valid_until)
    with db.write() as s:
        if s.execute(select(EarningRule.id).where(EarningRule.code == code)).first():
            raise Conflict(f"An earning rule with code {code} exists", code="rule_code_taken")
        rule = EarningRule(code=code, name=name, created_at=now, updated_at=now)
        s.add(rule)
        s.flush()
        version = _version(rule, 1, params, start, actor, now)
        s.add(version)
        try:
            commit(s, policy)
        except exc.IntegrityError as err:
            if is_unique_violation(err):  # a concurrent create with the same code won
                raise Conflict(f"An earning rule with code {code} exists", code="rule_code_taken") from None
            raise
        return rule, [version]


def _versions(s: Session, rule_id: uuid.UUID) -> list[EarningRuleVersion]:
    return list(
        s.execute(
            select(EarningRuleVersion).where(EarningRuleVersion.rule_id == rule_id).order_by(EarningRuleVersion.version)
        ).scalars()
    )


def read_rule(db: Database, *, rule_id: uuid.UUID) -> tuple[EarningRule, list[EarningRuleVersion]]:
    with db.read() as s:
        rule = s.get(EarningRule, rule_id)
        if rule is None:
            raise rule_not_found(rule_id)
        return rule, _versions(s, rule_id)


def list_rules(db: Database, *, include_retired: bool) -> list[tuple[EarningRule, list[EarningRuleVersion]]]:
    with db.read() as s:
        stmt = select(EarningRule).order_by(EarningRule.code)
        if not include_retired:
            stmt = stmt.where(EarningRule.retired_at.is_(None))
        rules = list(s.execute(stmt).scalars())
        return [(r, _versions(s, r.id)) for r in rules]


def _locked_rule(s: Session, rule_id: uuid.UUID, expected_version: int | None) -> tuple[EarningRule, list]:
    rule = s.get(EarningRule, rule_id, with_for_update=True)
    if rule is None:
        raise rule_not_found(rule_id)
    check_version(rule.version, expected_version)
    if rule.retired_at is not None:
        raise Conflict(f"Earning rule {rule.code} is retired", code="rule_retired")
    return rule, _versions(s, rule_id)


def change_rule(
    db: Database,
    *,
    rule_id: uuid.UUID,
    name: str | None,
    params: RuleParams,
    expected_version: int,
    actor: Principal,
    policy: Policy,
) -> tuple[EarningRule, list[EarningRuleVersion]]:
    """A new version in force from `valid_from` (default now); the previous version ends there.
    Transactions before that time keep being scored by the previous version."""
    now = policy.now()
    with db.write() as s:
        rule, versions = _locked_rule(s, rule_id, expected_version)
        current = versions[-1]
        start = params.valid_from or now
        if start < current.valid_from:
            raise InvalidInput(
                [
                    {
                        "loc": ["body", "valid_from"],
                        "msg": "must not be before the current version's valid_from",
                        "type": "version_order",
                    }
                ]
            )
        _check_window(start, params.valid_until)
        if current.valid_until is None or current.valid_until > start:
            current.valid_until = start
        rule.version += 1
        rule.name = name or rule.name
        rule.updated_at = now
        new = _version(rule, rule.version, params, start, actor, now)
        s.add(new)
        commit(s, policy)
        return rule, [*versions, new]


def retire_rule(
    db: Database, *, rule_id: uuid.UUID, at: datetime | None, expected_version: int | None, policy: Policy
) -> tuple[EarningRule, list[EarningRuleVersion]]:
    """The rule stops scoring transactions from `at` (default now); 409 rule_retired when already retired."""
    now = policy.now()
    with db.write() as s:
        rule, versions = _locked_rule(s, rule_id, expected_version)
        at = at or now
        current = versions[-1]
        if at < current.valid_from:
            raise InvalidInput(
                [
                    {
                        "loc": ["body", "at"],
                        "msg": "must not be before the current version's valid_from",
                        "type": "version_order",
                    }
                ]
            )
        if current.valid_until is None or current.valid_until > at:
            current.valid_until = at
        rule.retired_at, rule.updated_at = at, now
        rule.version += 1
        commit(s, policy)
        return rule, versions


# -- scoring ---------------------------------------------------------------------------------------


def _rules_in_force(s: Session, kind: str, channel: str, at: datetime) -> list[EarningRuleVersion]:
    cache = s.info.setdefault("rule_versions", {})
    if kind not in cache:  # one load per unit of work (a consumer batch)
        cache[kind] = list(s.execute(select(EarningRuleVersion).where(EarningRuleVersion.kind == kind)).scalars())
    return [
        v
        for v in cache[kind]
        if (v.channel is None or v.channel == channel)
        and v.valid_from <= at
        and (v.valid_until is None or at < v.valid_until)
    ]


def raw_points(amount_fen: int, version: EarningRuleVersion, channel: str, segments: set[str] | None) -> int:
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
    for (rule_id, bounds), customers in wanted.items():
        todo = sorted(c for c in customers if bounds not in cache.get((c, rule_id), {}))
        for i in range(0, len(todo), 500):
            chunk = todo[i : i + 500]
            found = dict(
                s.execute(
                    select(LedgerEntry.customer_id, func.sum(LedgerEntry.points))
                    .where(
                        LedgerEntry.customer_id.in_(chunk),
                        LedgerEntry.rule_id == rule_id,
                        LedgerEntry.kind == "earn",
                        LedgerEntry.occurred_at >= bounds[0],
                        LedgerEntry.occurred_at < bounds[1],
                    )
                    .group_by(LedgerEntry.customer_id)
                ).all()
            )
            for c in chunk:
                cache.setdefault((c, rule_id), {})[bounds] = int(found.get(c) or 0)


def locked_account(s: Session, customer_id: uuid.UUID) -> PointsAccount | None:
    """The account row locked for this unit of work (FOR UPDATE on PostgreSQL): queried once, then held
    by the session (the identity map alone holds weakly). prelock_accounts locks a batch's accounts at once."""
    held = s.info.setdefault("locked_accounts", {})
    account = held.get(customer_id)
    if account is None:
        account = s.get(PointsAccount, customer_id, with_for_update=True)
        if account is not None:
            held[customer_id] = account
    return account


def prelock_accounts(s: Session, customer_ids: set[uuid.UUID]) -> None:
    """Loads and locks (in key order, on PostgreSQL) the accounts of these customers, one query per 500."""
    held = s.info.setdefault("locked_accounts", {})
    wanted = sorted(customer_ids - held.keys())
    for i in range(0, len(wanted), 500):
        stmt = (
            select(PointsAccount)
            .where(PointsAccount.customer_id.in_(wanted[i : i + 500]))
            .order_by(PointsAccount.customer_id)
            .with_for_update()
        )
        held.update((a.customer_id, a) for a in s.execute(stmt).scalars())


def _capped(
    s: Session, customer_id: uuid.UUID, v: EarningRuleVersion, points: int, at: datetime, policy: Policy
) -> int:
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
    account = locked_account(s, customer_id)
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
        credit(s, account, kind="earn", points=points, posting=posting, policy=policy, at=txn.occurred_at)
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
        if s.execute(select(LedgerEntry.id).where(LedgerEntry.dedupe_key == key)).first():
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
