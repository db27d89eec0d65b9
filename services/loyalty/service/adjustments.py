"""Staff adjustments of points, under dual control (maker-checker, services.common.approvals). An
adjustment beyond `staff_adjust_limit` points either way, or one that takes the maker's adjustments of
the day (in the bank's zone) beyond `adjust_daily_cap`, is stored as a pending approval request
holding exactly the adjustment; a supervisor or admin other than the maker approves it (the adjustment
is then posted, in the maker's name, in the same transaction) or rejects it with a reason. One request
per account may be pending. Each step is on the feed (approval.requested / approved / rejected) and in
the audit chain; the adjustment itself is recorded as any other."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import exc, func, select
from sqlalchemy.orm import Session

from services.common.approvals import Approval, ApprovalBook, Executor, pending_conflict
from services.common.audit_chain import append as append_audit
from services.common.auth import Principal
from services.common.db import Database, is_unique_violation
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.loyalty.models import ADJUSTMENTS, LedgerEntry, audit_chain, idempotency
from services.loyalty.service.ledger import Posting, commit, credit, debit, lock_account, require_active
from services.loyalty.service.policy import Policy

ACTION = "points.adjust"


def adjust_points(
    db: Database,
    *,
    customer_id: uuid.UUID,
    points: int,
    reason: str,
    actor: Principal,
    idem: IdempotencyRequest | None,
    present,
    present_pending,
    policy: Policy,
    book: ApprovalBook,
) -> LedgerEntry | Approval | StoredResponse:
    """The posted entry (201), or the pending approval request (202) when dual control applies. A debit
    the balance cannot cover is 409 points_insufficient (when posted, also when approved later).
    `present` / `present_pending` turn the result into the stored body for Idempotency-Key replays."""
    now = policy.now()
    try:
        with db.write() as s:
            if idem and (stored := find_stored(s, idempotency, idem)):
                return stored
            account = lock_account(s, customer_id)
            require_active(account)
            why = _dual_control(s, actor, points, policy, now)
            if why is None:
                entry = _post(s, customer_id, points, reason, actor.sub, actor.role, policy, approval_id=None)
                if idem:
                    store_response(s, idempotency, idem, 201, present(entry))
                commit(s, policy)
                return entry
            payload = {"customer_id": str(customer_id), "points": points, "reason": reason}
            row = book.request(
                s,
                action=ACTION,
                object_id=str(customer_id),
                payload=payload,
                why=why,
                maker=actor,
                now=now,
                points=points,
            )
            if idem:
                store_response(s, idempotency, idem, 202, present_pending(row))
            s.commit()
            return row
    except exc.IntegrityError as err:  # a racing request for the same account won the pending slot
        if not is_unique_violation(err):
            raise
        raise pending_conflict(ACTION, str(customer_id)) from None


def _dual_control(s: Session, actor: Principal, points: int, policy: Policy, now: datetime) -> str | None:
    if abs(points) > policy.staff_adjust_limit:
        return "over_limit"
    start, end = policy.day_bounds(now)
    today = s.execute(
        select(func.coalesce(func.sum(func.abs(LedgerEntry.points)), 0)).where(
            LedgerEntry.kind == "adjust",
            LedgerEntry.actor_sub == actor.sub,
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
    ).scalar_one()
    return "over_daily_cap" if int(today) + abs(points) > policy.adjust_daily_cap else None


def _post(
    s: Session,
    customer_id: uuid.UUID,
    points: int,
    reason: str,
    maker_sub: str,
    maker_role: str,
    policy: Policy,
    approval_id: str | None,
) -> LedgerEntry:
    account = lock_account(s, customer_id)
    require_active(account)
    posting = Posting(source="manual", reason=reason, actor_sub=maker_sub, source_ref=approval_id)
    if points > 0:
        entry = credit(s, account, kind="adjust", points=points, posting=posting, policy=policy)
    else:
        entry = debit(s, account, kind="adjust", points=-points, posting=posting, policy=policy)
    s.flush()
    append_audit(
        s,
        audit_chain,
        action="points.adjusted",
        actor_sub=maker_sub,
        actor_role=maker_role,
        subject=str(customer_id),
        at=entry.occurred_at,
        detail=ADJUSTMENTS.detail(entry),
    )
    return entry


def executor(policy: Policy) -> Executor:
    def post_approved(s: Session, row: Approval, _checker: Principal, _now: datetime) -> dict[str, Any]:
        """Posts the adjustment the request holds, in its maker's name (409 points_insufficient when the
        balance no longer covers a debit: the request stays pending)."""
        p = row["payload"]
        customer_id = uuid.UUID(p["customer_id"])
        entry = _post(s, customer_id, p["points"], p["reason"], row["maker_sub"], row["maker_role"], policy, row["id"])
        return {"entry_id": entry.id}

    return post_approved
