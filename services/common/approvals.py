"""Dual control (maker-checker). An action under it is not done when asked: it is stored as a pending
approval request holding exactly what would be done, and a checker of the required role approves or
rejects it. The maker never checks their own request; a checker acts in the maker's branch or a
branch above it in the organisation tree (the service's copy of it), or is head office (admin). A
second pending request for the same action and object is refused (409 approval_pending: one partial
unique index, so a race cannot get two). Requests expire after their time to live. The decision is a
compare-and-set on the pending row in the transaction that executes the action, so however approvals
race, the action runs exactly once.

`ApprovalBook` is one service's approvals: its table, outbox and audit chain, and what approval does
for each action (an executor run in the deciding transaction). Every step (requested, approved,
rejected, expired) is an `approval.*` event on the service's feed and a record in its audit chain.

What people type into a request (the payload's `reason` and `note`, a rejection's note) is personal
data (PIPL): sealed with the service's vault at rest, read back in full by the book (executors act on
it), masked by `masked` for responses, and ERASED by `redact` when the person it is about is erased."""

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import (
    JSON,
    Column,
    Index,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    exc,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from services.common.audit_chain import append as append_audit
from services.common.auth import Principal
from services.common.branch_scope import is_branch_bound
from services.common.branches import ancestor_codes, subtree_codes
from services.common.db import Database, UTCDateTime, is_unique_violation, rows_affected
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.jobs import Job, Schedule
from services.common.outbox import record_event
from services.common.pagination import oldest_first, page_of, time_id_key
from services.common.pii import ERASED, PersonalDataVault, mask_text

STATUSES = ("pending", "approved", "rejected", "expired")
# The payload keys that hold typed free text (a maker's reason, a complaint step's note), and the field
# names bound into their ciphertexts (and the rejection note's); frozen in each service's migration.
FREE_TEXT_KEYS = ("reason", "note")
NOTE_FIELD = "approval_request.note"
# A request as the book hands it out: the stored row with its free text unsealed.
Approval = Mapping[Any, Any]


def payload_field(key: str) -> str:
    return f"approval_request.payload.{key}"


def map_free_text(payload: Any, apply: Callable[[str, str], str | None]) -> Any:
    """`payload` with apply(value, field) on each of its free-text values."""
    if not isinstance(payload, dict):
        return payload
    return {
        k: apply(v, payload_field(k)) if k in FREE_TEXT_KEYS and isinstance(v, str) else v for k, v in payload.items()
    }


def redact(s: Session, table: Table, object_ids: Collection[str]) -> None:
    """Erasure: the typed free text of every request about these objects (payload and note) is ERASED."""
    held = s.execute(select(table.c.id, table.c.payload, table.c.note).where(table.c.object_id.in_(object_ids)))
    for approval_id, payload, note in held.all():
        values = {"payload": map_free_text(payload, lambda _v, _f: ERASED), "note": note and ERASED}
        s.execute(update(table).where(table.c.id == approval_id).values(values))


def masked(row: Approval) -> dict[str, Any]:
    """A request as roles that see masked data read it: the words of its free text stay, the ID
    numbers, phones, cards and emails inside are masked (services.common.pii.mask_text)."""
    return {**row, "payload": map_free_text(row["payload"], lambda v, _f: mask_text(v)), "note": mask_text(row["note"])}


STEPS = ("approval.requested", "approval.approved", "approval.rejected", "approval.expired")
# A pending request is "near expiry" in its last quarter of life (the alert's warning).
NEAR_EXPIRY_SHARE = 0.25


def approval_table(metadata: MetaData) -> Table:
    return Table(
        "approval_request",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("action", String(40), nullable=False),
        Column("object_id", String(64), nullable=False),
        Column("payload", JSON, nullable=False),  # exactly what approval would do
        Column("why", String(40), nullable=False),  # the rule that put it under dual control
        Column("maker_sub", String(100), nullable=False),
        Column("maker_role", String(16), nullable=False),
        Column("maker_branch", String(32), nullable=True),
        Column("status", String(10), nullable=False),
        Column("requested_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False),
        Column("decided_at", UTCDateTime(), nullable=True),
        Column("checker_sub", String(100), nullable=True),
        Column("checker_role", String(16), nullable=True),
        Column("note", Text, nullable=True),  # the checker's reason for a rejection (sealed)
        Column("result", JSON, nullable=True),  # what the approved action produced (ids)
        Index(
            "uq_approval_request_pending",
            "action",
            "object_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_approval_request_status_requested_at", "status", "requested_at"),
    )


def approval_not_found(approval_id: Any) -> NotFound:
    return NotFound(f"No approval request {approval_id}", code="approval_not_found")


def pending_conflict(action: str, object_id: str) -> Conflict:
    return Conflict(f"A {action} request for {object_id} is already waiting for approval", code="approval_pending")


def maker_of(row: Approval) -> Principal:
    """The maker as a principal: an approved action runs in the maker's name."""
    return Principal(row["maker_sub"], row["maker_role"], row["maker_branch"])


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# What approval does: run in the deciding transaction with the request and the checker; returns the
# ids it produced (stored as the request's result and put on approval.approved), or None when the
# approval is a grant the maker uses later (the result is then written when it is used).
Executor = Callable[[Session, Approval, Principal, datetime], dict[str, Any] | None]


@dataclass(frozen=True)
class ApprovalBook:
    table: Table
    outbox: Table
    audit_chain: Table
    executors: Mapping[str, Executor]
    ttls: Mapping[str, timedelta]  # per action: how long a request waits for a checker
    enabled: frozenset[str] = frozenset()  # the actions under dual control now (settings)
    branches: Table | None = None  # the service's copy of the organisation tree (a checker's reach)
    vault: PersonalDataVault | None = None  # seals the typed free text (None: stored as typed)
    commit: Callable[[Session], None] = field(default=lambda s: s.commit())

    def seal(self, value: str | None, field: str) -> str | None:
        return self.vault.seal(value, field) if self.vault else value

    def opened(self, row: RowMapping) -> Approval:
        """The stored request with its free text unsealed (in full: for executors and `masked`)."""
        if self.vault is None:
            return row
        unseal = self.vault.unseal
        return {**row, "payload": map_free_text(row["payload"], unseal), "note": unseal(row["note"], NOTE_FIELD)}

    def controls(self, action: str) -> bool:
        """Is `action` under dual control (a request decided earlier is still approved as it says)?"""
        return action in self.enabled

    def step(self, s: Session, row: Approval, type_: str, actor: Principal, now: datetime, **data: Any) -> None:
        """A step on the feed and in the audit chain (ids and states only: never typed free text)."""
        body = {"approval_id": row["id"], "action": row["action"], **data}
        record_event(s, self.outbox, type=type_, subject_id=row["object_id"], data=body)
        append_audit(
            s,
            self.audit_chain,
            action=type_,
            actor_sub=actor.sub,
            actor_role=actor.role,
            subject=row["object_id"],
            at=now,
            detail={**body, "maker_sub": row["maker_sub"]},
        )

    def request(
        self,
        s: Session,
        *,
        action: str,
        object_id: str,
        payload: dict[str, Any],
        why: str,
        maker: Principal,
        now: datetime,
        **event_data: Any,
    ) -> Approval:
        """Stores the pending request and its approval.requested step in the caller's transaction.
        409 approval_pending when one for the same action and object is pending; one that expired
        meanwhile is marked expired (with its step) first."""
        table = self.table
        same = (table.c.action == action) & (table.c.object_id == object_id) & (table.c.status == "pending")
        self._expire(s, same & (table.c.expires_at <= now), now)
        if s.execute(select(table.c.id).where(same)).first() is not None:
            raise pending_conflict(action, object_id)
        approval_id = str(uuid.uuid4())
        s.execute(
            insert(table).values(
                id=approval_id,
                action=action,
                object_id=object_id,
                payload=map_free_text(payload, self.seal),
                why=why,
                maker_sub=maker.sub,
                maker_role=maker.role,
                maker_branch=maker.branch,
                status="pending",
                requested_at=now,
                expires_at=now + self.ttls[action],
            )
        )
        row = s.execute(select(table).where(table.c.id == approval_id)).mappings().one()
        self.step(s, row, "approval.requested", maker, now, why=why, expires_at=iso(row["expires_at"]), **event_data)
        return self.opened(row)

    def request_alone(self, db: Database, *, action: str, object_id: str, **kw: Any) -> Approval:
        """`request` in a transaction of its own; a racing request for the same object is 409 too."""
        try:
            with db.write() as s:
                row = self.request(s, action=action, object_id=object_id, **kw)
                s.commit()
                return row
        except exc.IntegrityError as err:
            if not is_unique_violation(err):
                raise
            raise pending_conflict(action, object_id) from None

    def approve(self, db: Database, *, approval_id: str, checker: Principal, now: datetime) -> Approval:
        """Decides and executes in one transaction: exactly once however approvals race. A refusal the
        executor raises (the object changed meanwhile) rolls back the decision: the request stays pending."""
        table = self.table
        with db.write() as s:
            row = decide(s, table, approval_id, checker=checker, approve=True, now=now, branches=self.branches)
            result = self.executors[row["action"]](s, self.opened(row), checker, now)
            if result is not None:
                s.execute(update(table).where(table.c.id == approval_id).values(result=result))
            self.step(s, row, "approval.approved", checker, now, **(result or {}))
            row = s.execute(select(table).where(table.c.id == approval_id)).mappings().one()
            after = s.info.pop("after_commit", [])
            self.commit(s)
        for finish in after:
            finish()
        return self.opened(row)

    def reject(self, db: Database, *, approval_id: str, checker: Principal, reason: str, now: datetime) -> Approval:
        note = self.seal(reason, NOTE_FIELD)
        with db.write() as s:
            row = decide(
                s, self.table, approval_id, checker=checker, approve=False, now=now, note=note, branches=self.branches
            )
            self.step(s, row, "approval.rejected", checker, now)
            s.commit()
        return self.opened(row)

    def expire_due(self, db: Database, *, now: datetime) -> int:
        """Marks every pending request past its expiry expired, each with its step; the job's work."""
        with db.write() as s:
            count = self._expire(s, (self.table.c.status == "pending") & (self.table.c.expires_at <= now), now)
            s.commit()
        return count

    def _expire(self, s: Session, where: Any, now: datetime) -> int:
        table = self.table
        lapsed = s.execute(select(table).where(where).with_for_update()).mappings().all()
        for row in lapsed:
            moved = s.execute(
                update(table)
                .where(table.c.id == row["id"], table.c.status == "pending")
                .values(status="expired", decided_at=now)
            )
            if rows_affected(moved) == 1:
                self.step(s, row, "approval.expired", EXPIRY, now, expires_at=iso(row["expires_at"]))
        return len(lapsed)

    def read(self, db: Database, *, approval_id: str, reader: Principal) -> Approval | None:
        """None also for a request out of `reader`'s reach (may_check)."""
        with db.read() as s:
            row = s.execute(select(self.table).where(self.table.c.id == approval_id)).mappings().first()
            if row is None or not may_check(s, self.branches, reader, row["maker_branch"]):
                return None
        return self.opened(row)

    def list(
        self,
        db: Database,
        *,
        status: str | None,
        action: str | None,
        now: datetime,
        limit: int,
        cursor: str | None,
        reader: Principal,
    ) -> tuple[list[Approval], str | None]:
        """Oldest first (a queue to work through); `pending` leaves out requests past their expiry, which
        `expired` includes. Staff and supervisors see the requests made in their branch's subtree (and
        those of no branch); head office every one."""
        table = self.table
        stmt = select(table)
        lapsed = (table.c.status == "pending") & (table.c.expires_at <= now)
        if status == "pending":
            stmt = stmt.where(table.c.status == "pending", table.c.expires_at > now)
        elif status == "expired":
            stmt = stmt.where((table.c.status == "expired") | lapsed)
        elif status is not None:
            stmt = stmt.where(table.c.status == status)
        if action is not None:
            stmt = stmt.where(table.c.action == action)
        with db.read() as s:
            if is_branch_bound(reader):
                stmt = stmt.where(
                    table.c.maker_branch.is_(None) | table.c.maker_branch.in_(sorted(self._reach(s, reader)))
                )
            rows = list(s.execute(oldest_first(stmt, table.c.requested_at, table.c.id, cursor, limit)).all())
        page, next_cursor = page_of(rows, limit, time_id_key("requested_at"))
        return [self.opened(r._mapping) for r in page], next_cursor

    def _reach(self, s: Session, reader: Principal) -> set[str]:
        if not reader.branch:
            return set()
        return subtree_codes(s, self.branches, reader.branch) if self.branches is not None else {reader.branch}

    def pending_by_age(self, db: Database, *, now: datetime) -> dict[tuple[str, str], int]:
        """{(action, age): count} of pending requests; age is waiting, near_expiry (the last quarter of
        the action's time to live) or past_expiry (not yet marked by the expiry job)."""
        table = self.table
        with db.read() as s:
            rows = s.execute(
                select(table.c.action, table.c.expires_at, func.count())
                .where(table.c.status == "pending")
                .group_by(table.c.action, table.c.expires_at)
            ).all()
        counts = {(action, age): 0 for action in self.executors for age in AGES}
        for action, expires_at, n in rows:
            ttl = self.ttls.get(action, timedelta(0))
            age = AGES[2] if expires_at <= now else AGES[1] if expires_at - now <= ttl * NEAR_EXPIRY_SHARE else AGES[0]
            counts[(action, age)] = counts.get((action, age), 0) + int(n)
        return counts


AGES = ("waiting", "near_expiry", "past_expiry")


def expiry_job(book: "ApprovalBook", db: Database, schedule: Schedule, clock: Callable[[], datetime]) -> Job:
    """The job that marks lapsed requests expired, each with its approval.expired step (reads treat a
    lapsed request as expired at once; the job puts the expiry on the feed and the audit chain)."""

    def run() -> str:
        return f"{book.expire_due(db, now=clock())} approval requests expired"

    return Job("approvals_expiry", schedule, run, timedelta(minutes=30))


EXPIRY = Principal("approval-expiry", "system")


def decide(
    s: Session,
    table: Table,
    approval_id: str,
    *,
    checker: Principal,
    approve: bool,
    now: datetime,
    note: str | None = None,
    branches: Table | None = None,
) -> RowMapping:
    """Moves a pending request to approved or rejected in the caller's transaction and returns it; the
    caller then executes an approved action in the same transaction. 404 also for a checker outside the
    maker's branch and the branches above it (in the tree `branches`): out of reach, the request is not
    there for them; 403 maker_cannot_decide, 409 approval_decided or approval_expired."""
    row = s.execute(select(table).where(table.c.id == approval_id).with_for_update()).mappings().first()
    if row is None or not may_check(s, branches, checker, row["maker_branch"]):
        raise approval_not_found(approval_id)
    if row["status"] != "pending":
        raise Conflict(f"The request was {row['status']} already", code="approval_decided")
    if row["expires_at"] <= now:
        raise Conflict("The request expired before it was decided", code="approval_expired")
    if checker.sub == row["maker_sub"]:
        raise Forbidden("The maker of a request cannot decide it", code="maker_cannot_decide")
    moved = s.execute(
        update(table)
        .where(table.c.id == approval_id, table.c.status == "pending")
        .values(
            status="approved" if approve else "rejected",
            decided_at=now,
            checker_sub=checker.sub,
            checker_role=checker.role,
            note=note,
        )
    )
    if rows_affected(moved) != 1:  # another checker decided it meanwhile
        raise Conflict("The request was decided already", code="approval_decided")
    return s.execute(select(table).where(table.c.id == approval_id)).mappings().one()


def may_check(s: Session, branches: Table | None, checker: Principal, maker_branch: str | None) -> bool:
    """Whether a request is in `checker`'s reach (to read, list or decide): head office (admin) and
    system reach any request, and a request of no branch anyone may; otherwise the checker's branch is
    the maker's or one of its ancestors (a parent branch oversees its outlets, never the reverse, nor a
    sibling)."""
    if not is_branch_bound(checker) or not maker_branch or checker.branch == maker_branch:
        return True
    if not checker.branch:
        return False
    return branches is not None and checker.branch in ancestor_codes(s, branches, maker_branch)


def effective_status(row: Approval, now: datetime) -> str:
    """A pending request past its expiry reads as expired before anything marks it so."""
    return "expired" if row["status"] == "pending" and row["expires_at"] <= now else str(row["status"])


class _PendingCollector(Collector):
    def __init__(self, read: Callable[[], dict[tuple[str, str], int]]):
        self.read = read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "suite_approval_requests_pending",
            "Pending dual-control requests by action and age (waiting, near_expiry, past_expiry)",
            labels=["action", "age"],
        )
        try:
            counts = self.read()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is away
            counts = {}
        for (action, age), n in sorted(counts.items()):
            family.add_metric([action, age], n)
        yield family


def install_approval_metrics(registry: CollectorRegistry, read: Callable[[], dict[tuple[str, str], int]]) -> None:
    """`suite_approval_requests_pending{action, age}`, read at each scrape (the alerts' series)."""
    registry.register(_PendingCollector(read))
