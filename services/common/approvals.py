"""Dual control (maker-checker). An action under it is not done when asked: it is stored as a pending
approval request holding exactly what would be done, and a checker of the required role approves or
rejects it. The maker never checks their own request; a checker acts in the maker's branch, or is
head office (admin). A second pending request for the same action and object is refused (409
approval_pending: one partial unique index, so a race cannot get two). Requests expire after their
time to live. The decision is a compare-and-set on the pending row in the transaction that executes
the action, so however approvals race, the action runs exactly once."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Index, MetaData, RowMapping, String, Table, insert, select, text, update
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.db import UTCDateTime, rows_affected
from services.common.errors import Conflict, Forbidden, NotFound

STATUSES = ("pending", "approved", "rejected", "expired")


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
        Column("note", String(500), nullable=True),  # the checker's reason for a rejection
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


def request_approval(
    s: Session,
    table: Table,
    *,
    action: str,
    object_id: str,
    payload: dict[str, Any],
    why: str,
    maker: Principal,
    now: datetime,
    ttl: timedelta,
) -> RowMapping:
    """Stores the pending request in the caller's transaction. 409 approval_pending when one for the
    same action and object is pending; one that expired meanwhile is marked expired first."""
    same = (table.c.action == action) & (table.c.object_id == object_id) & (table.c.status == "pending")
    s.execute(update(table).where(same, table.c.expires_at <= now).values(status="expired", decided_at=now))
    if s.execute(select(table.c.id).where(same)).first() is not None:
        raise pending_conflict(action, object_id)
    approval_id = str(uuid.uuid4())
    s.execute(
        insert(table).values(
            id=approval_id,
            action=action,
            object_id=object_id,
            payload=payload,
            why=why,
            maker_sub=maker.sub,
            maker_role=maker.role,
            maker_branch=maker.branch,
            status="pending",
            requested_at=now,
            expires_at=now + ttl,
        )
    )
    return s.execute(select(table).where(table.c.id == approval_id)).mappings().one()


def decide(
    s: Session,
    table: Table,
    approval_id: str,
    *,
    checker: Principal,
    approve: bool,
    now: datetime,
    note: str | None = None,
) -> RowMapping:
    """Moves a pending request to approved or rejected in the caller's transaction and returns it; the
    caller then executes an approved action in the same transaction. 404, 403 maker_cannot_decide or
    checker_out_of_branch, 409 approval_decided or approval_expired."""
    row = s.execute(select(table).where(table.c.id == approval_id).with_for_update()).mappings().first()
    if row is None:
        raise approval_not_found(approval_id)
    if row["status"] != "pending":
        raise Conflict(f"The request was {row['status']} already", code="approval_decided")
    if row["expires_at"] <= now:
        raise Conflict("The request expired before it was decided", code="approval_expired")
    if checker.sub == row["maker_sub"]:
        raise Forbidden("The maker of a request cannot decide it", code="maker_cannot_decide")
    if checker.role != "admin" and row["maker_branch"] and checker.branch != row["maker_branch"]:
        raise Forbidden(
            "A checker decides requests of their own branch (head office: any)", code="checker_out_of_branch"
        )
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


def effective_status(row: RowMapping, now: datetime) -> str:
    """A pending request past its expiry reads as expired before anything marks it so."""
    return "expired" if row["status"] == "pending" and row["expires_at"] <= now else str(row["status"])
