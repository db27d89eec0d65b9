"""Activity bonuses: configurable awards (first mobile login, a completed survey, attending an event),
each awarded at most once per activity instance, or once ever when the activity is not repeatable."""

import uuid

from sqlalchemy import exc, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database, is_unique_violation
from services.common.errors import Conflict, NotFound
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.loyalty.models import Activity, LedgerEntry, PointsAccount, idempotency
from services.loyalty.service.ledger import (
    Posting,
    commit,
    credit,
    dedupe_exists,
    lock_account,
    require_active,
)
from services.loyalty.service.policy import Policy


def activity_not_found(code: str) -> NotFound:
    return NotFound(f"No activity {code}", code="activity_not_found")


def create_activity(
    db: Database, *, code: str, name: str, points: int, trigger: str, is_repeatable: bool, policy: Policy
) -> Activity:
    with db.write() as s:
        if s.get(Activity, code) is not None:
            raise Conflict(f"An activity with code {code} exists", code="activity_code_taken")
        activity = Activity(
            code=code, name=name, points=points, trigger=trigger, is_repeatable=is_repeatable, created_at=policy.now()
        )
        s.add(activity)
        try:
            commit(s, policy)
        except exc.IntegrityError as err:
            if is_unique_violation(err):
                raise Conflict(f"An activity with code {code} exists", code="activity_code_taken") from None
            raise
        return activity


def list_activities(db: Database) -> list[Activity]:
    with db.read() as s:
        return list(s.execute(select(Activity).order_by(Activity.code)).scalars())


def _dedupe_key(activity: Activity, customer_id: uuid.UUID, instance: str) -> str:
    return f"act:{activity.code}:{customer_id}:{instance if activity.is_repeatable else '-'}"


def award_in(
    s: Session, account: PointsAccount, activity: Activity, instance: str, policy: Policy, actor_sub: str | None = None
) -> LedgerEntry | None:
    """The award, or None when this instance (or, not repeatable, any instance) was already awarded."""
    key = _dedupe_key(activity, account.customer_id, instance)
    if activity.is_retired or activity.points <= 0 or dedupe_exists(s, key):
        return None
    return credit(
        s,
        account,
        kind="earn",
        points=activity.points,
        policy=policy,
        posting=Posting(
            source="activity", source_ref=f"{activity.code}:{instance}"[:100], dedupe_key=key, actor_sub=actor_sub
        ),
    )


def awards_for_trigger(s: Session, customer_id: uuid.UUID, trigger: str, instance: str, policy: Policy) -> int:
    """Every active activity bound to `trigger`, for an enrolled, active customer. The caller commits."""
    account = s.get(PointsAccount, customer_id, with_for_update=True)
    if account is None or account.status != "active":
        return 0
    total = 0
    for activity in s.execute(
        select(Activity).where(Activity.trigger == trigger, col(Activity.is_retired).is_(False))
    ).scalars():
        entry = award_in(s, account, activity, instance, policy)
        total += entry.points if entry else 0
    return total


def award_activity(
    db: Database,
    *,
    customer_id: uuid.UUID,
    code: str,
    instance: str,
    actor: Principal,
    idem: IdempotencyRequest | None,
    present,
    policy: Policy,
) -> LedgerEntry | StoredResponse:
    """409 activity_already_awarded for an instance awarded before."""
    with db.write() as s:
        if idem and (stored := find_stored(s, idempotency, idem)):
            return stored
        account = lock_account(s, customer_id)
        require_active(account)
        activity = s.get(Activity, code)
        if activity is None or activity.is_retired:
            raise activity_not_found(code)
        entry = award_in(s, account, activity, instance, policy, actor_sub=actor.sub)
        if entry is None:
            raise Conflict(f"Activity {code} was already awarded for this instance", code="activity_already_awarded")
        if idem:
            store_response(s, idempotency, idem, 201, present(entry))
        commit(s, policy)
        return entry
