"""Profile's actions under dual control (services.common.approvals): a customer's erasure asked by
staff, and reveals of full personal data beyond a staff member's daily count.

Erasure: a supervisor or admin asks (202, the request holds the reason and channel); another approves
and the erasure runs in the approval's transaction, in the maker's name, exactly as a direct one (the
database files are scrubbed right after its commit). The customer's own request and the retention
sweep are not under it: the first is the person's legal right (PIPL art. 47), the second a duty the
bank's retention rules set, not anyone's decision.

Reveals: past `PROFILE_REVEAL_DAILY_LIMIT` reveals a day (the bank's calendar), a staff member's next
reveal is a pending request; once another supervisor or admin approves it, that maker may reveal that
customer once, until the request's expiry (the grant is used by the next reveal of the customer, and
its result records when)."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exc, func, select, update
from sqlalchemy.orm import Session

from services.common.approvals import Approval, ApprovalBook, iso, maker_of, pending_conflict
from services.common.auth import Principal
from services.common.db import Database, is_unique_violation, rows_affected
from services.profile.models import AuditEntry
from services.profile.service.customers import Privacy
from services.profile.service.rights import erasable, erase_in

ERASE = "customer.erase"
REVEAL = "customer.reveal"
REVEALED = "personal_data.read"


def request_erasure(
    db: Database, book: ApprovalBook, *, customer_id: uuid.UUID, reason: str, requested_via: str, maker: Principal, now
) -> Approval:
    """The pending request (404 and 409 customer_erased checked now, and again on approval)."""
    with db.read() as s:
        erasable(s, customer_id)
    payload = {"customer_id": str(customer_id), "reason": reason, "requested_via": requested_via}
    return book.request_alone(
        db, action=ERASE, object_id=str(customer_id), payload=payload, why="erasure", maker=maker, now=now
    )


def erasure_executor(db: Database, privacy: Privacy) -> Callable[..., dict[str, Any]]:
    def erase_approved(s: Session, row: Approval, _checker: Principal, now: datetime) -> dict[str, Any]:
        p = row["payload"]
        req = erase_in(
            s,
            customer_id=uuid.UUID(p["customer_id"]),
            reason=p["reason"],
            requested_via=p["requested_via"],
            actor=maker_of(row),
            privacy=privacy,
            now=now,
        )
        s.info.setdefault("after_commit", []).append(db.scrub_files)
        return {"erasure_request_id": str(req.id)}

    return erase_approved


def grant_reveal(_s: Session, _row: Approval, _checker: Principal, _now: datetime) -> None:
    """Approval of a reveal does nothing yet: the maker's next reveal of the customer uses it."""
    return None


def reveal_gate(
    book: ApprovalBook, *, daily_limit: int, zone: str, now: datetime
) -> Callable[[Session, uuid.UUID, Principal, str], Approval | None]:
    """What a reveal asks first, in its own transaction: None to go ahead (within the day's count, or an
    approved grant used), or the pending request it stored instead (409 approval_pending when one waits)."""

    def gate(s: Session, customer_id: uuid.UUID, actor: Principal, reason: str) -> Approval | None:
        if not book.controls(REVEAL) or _reveals_today(s, actor, now, zone) < daily_limit:
            return None
        if _use_grant(s, book, customer_id, actor, now):
            return None
        payload = {"customer_id": str(customer_id), "reason": reason, "fields": ["id_number", "phone", "email"]}
        try:
            with s.begin_nested():
                return book.request(
                    s,
                    action=REVEAL,
                    object_id=str(customer_id),
                    payload=payload,
                    why="over_daily_reveals",
                    maker=actor,
                    now=now,
                )
        except exc.IntegrityError as err:  # a racing request for the same customer won the pending slot
            if not is_unique_violation(err):
                raise
            raise pending_conflict(REVEAL, str(customer_id)) from None

    return gate


def _reveals_today(s: Session, actor: Principal, now: datetime, zone: str) -> int:
    local = now.astimezone(ZoneInfo(zone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    return int(
        s.execute(
            select(func.count()).where(
                AuditEntry.action == REVEALED, AuditEntry.actor_sub == actor.sub, AuditEntry.at >= start
            )
        ).scalar_one()
    )


def _use_grant(s: Session, book: ApprovalBook, customer_id: uuid.UUID, actor: Principal, now: datetime) -> bool:
    """Uses one approved, unused, unexpired grant of this maker for this customer: a compare-and-set on
    its result, so two reveals racing for one grant get one reveal."""
    t = book.table
    grants = s.execute(
        select(t.c.id)
        .where(
            t.c.action == REVEAL,
            t.c.object_id == str(customer_id),
            t.c.maker_sub == actor.sub,
            t.c.status == "approved",
            t.c.result.is_(None),
            t.c.expires_at > now,
        )
        .order_by(t.c.requested_at)
    ).scalars()
    for grant in grants:
        used = s.execute(
            update(t).where(t.c.id == grant, t.c.result.is_(None)).values(result={"revealed_at": iso(now)})
        )
        if rows_affected(used) == 1:
            return True
    return False
