"""Earning rules as data: versioned by time, retired but never deleted; each change is a new version
and the rule's history is kept."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exc, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database, is_unique_violation
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.etag import check_version
from services.loyalty.models import EarningRule, EarningRuleVersion
from services.loyalty.service.classes import ClassCatalogue
from services.loyalty.service.ledger import commit
from services.loyalty.service.policy import Policy


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


def _check_segments(params: RuleParams, classes: ClassCatalogue) -> None:
    """422 for a multiplier's segment that is no class."""
    classes.check("multipliers", [m.get("segment") for m in params.multipliers], part="segment")


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
    db: Database,
    *,
    code: str,
    name: str,
    params: RuleParams,
    actor: Principal,
    policy: Policy,
    classes: ClassCatalogue,
) -> tuple[EarningRule, list[EarningRuleVersion]]:
    """409 rule_code_taken when the code exists; 422 for a multiplier's segment that is no class."""
    now = policy.now()
    start = params.valid_from or now
    _check_window(start, params.valid_until)
    _check_segments(params, classes)
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
            stmt = stmt.where(col(EarningRule.retired_at).is_(None))
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
    classes: ClassCatalogue,
) -> tuple[EarningRule, list[EarningRuleVersion]]:
    """A new version in force from `valid_from` (default now); the previous version ends there.
    Transactions before that time keep being scored by the previous version. 422 for a multiplier's
    segment that is no class."""
    _check_segments(params, classes)
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
