"""Open complaints against their deadlines: the escalation lists, the overdue count and the sweep that
flags newly overdue complaints (complaint.overdue)."""

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.branch_scope import in_reach
from services.common.db import Database
from services.common.outbox import record_event
from services.feedback.models import Complaint, ComplaintStep, outbox
from services.feedback.schemas.complaints import (
    Escalations,
    SweepResult,
)
from services.feedback.service.complaints import (
    OPEN,
    ComplaintContext,
    append_step,
    iso_time,
    step_views,
    steps_by_complaint,
    summarise,
)
from services.feedback.service.deadlines import Deadline, compute_deadline


def open_with_deadlines(
    s: Session, ctx: ComplaintContext, reach: set[str] | None = None, handler_sub: str | None = None
) -> list[tuple[Complaint, list[ComplaintStep], Deadline]]:
    """Open complaints with their deadlines, of the branches in `reach` (None: every branch); with
    `handler_sub`, only those assigned to that handler."""
    stmt = select(Complaint).where(col(Complaint.state).in_(OPEN), in_reach(Complaint.branch_code, reach))
    if handler_sub is not None:
        stmt = stmt.where(Complaint.handler_sub == handler_sub)
    rows = list(s.execute(stmt.order_by(Complaint.received_at)).scalars())
    steps = steps_by_complaint(s, [c.id for c in rows])
    now = ctx.clock()
    return [(c, steps[c.id], compute_deadline(c.received_at, step_views(steps[c.id]), ctx.rules, now)) for c in rows]


def escalations(
    db: Database, *, ctx: ComplaintContext, reach: set[str] | None = None, handler_sub: str | None = None
) -> Escalations:
    """Open complaints past 80% of their time without a decision (at risk), and those overdue, of the
    branches in `reach`; with `handler_sub`, only those assigned to that handler (a work queue)."""
    with db.read() as s:
        rows = open_with_deadlines(s, ctx, reach, handler_sub)
    return Escalations(
        at_risk=[summarise(c, d) for c, _, d in rows if d.at_risk],
        overdue=[summarise(c, d) for c, _, d in rows if d.overdue],
    )


def count_deadlines(db: Database, *, ctx: ComplaintContext) -> tuple[int, int]:
    """(open complaints past their deadline, open complaints at risk of passing it)."""
    with db.read() as s:
        deadlines = [d for _, _, d in open_with_deadlines(s, ctx)]
    return sum(1 for d in deadlines if d.overdue), sum(1 for d in deadlines if d.at_risk)


def sweep_overdue(db: Database, *, actor: Principal, ctx: ComplaintContext) -> SweepResult:
    """Flags each overdue complaint once per due date (a `flag_overdue` step) and emits
    complaint.overdue for it; running it again changes nothing."""
    flagged = 0
    with db.write() as s:
        rows = open_with_deadlines(s, ctx)
        overdue = [(c, steps, d) for c, steps, d in rows if d.overdue]
        now = ctx.clock()
        for c, steps, d in overdue:
            due = iso_time(d.due_at)
            if any(st.action == "flag_overdue" and st.data.get("due_at") == due for st in steps):
                continue
            append_step(s, c, action="flag_overdue", to_state=c.state, actor=actor, at=now, data={"due_at": due})
            record_event(
                s,
                outbox,
                type="complaint.overdue",
                subject_id=c.customer_id or str(c.id),
                occurred_at=now,
                data={"complaint_id": str(c.id), "due_at": due},
            )
            flagged += 1
        s.commit()
    return SweepResult(overdue=len(overdue), newly_flagged=flagged)
