"""Handling steps on a complaint: each action checked against the state machine and recusal, appended
as a step with its data, its extension or pause rules, and its events, in one transaction."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from services.common.access import STAFF, SUPERVISOR
from services.common.approvals import Approval, Executor, maker_of, pending_conflict
from services.common.auth import Principal
from services.common.db import Database, is_unique_violation
from services.common.errors import Conflict, Forbidden, InvalidInput
from services.common.outbox import record_event
from services.feedback.models import Complaint, ComplaintStep, Survey, SurveyInvitation, outbox
from services.feedback.schemas.complaints import (
    ComplaintRead,
)
from services.feedback.service.complaints import (
    ACTION_RULES,
    TRANSITIONS,
    ComplaintContext,
    allowed_actions,
    append_step,
    iso_time,
    load_steps,
    load_visible,
    present_complaint,
    step_views,
)
from services.feedback.service.deadlines import Deadline, compute_deadline
from services.feedback.service.free_text import NOTE_FIELD, seal_step_data

EXTEND = "complaint.extend"


def add_step(
    db: Database,
    *,
    complaint_id: uuid.UUID,
    step_in,
    actor: Principal,
    ctx: ComplaintContext,
    reach: set[str] | None = None,
) -> ComplaintRead | Approval:
    """Applies one action through the state machine: 409 `complaint_transition_illegal` (with the
    allowed actions) when the state does not allow it, 403 when the role may not take it. A second
    extension under dual control is not applied: the pending approval request is returned."""
    try:
        return _add_step(db, complaint_id, step_in, actor, ctx, reach)
    except exc.IntegrityError as err:  # a racing request for the same complaint won the pending slot
        if not is_unique_violation(err):
            raise
        raise pending_conflict(EXTEND, str(complaint_id)) from None


def _add_step(
    db: Database, complaint_id: uuid.UUID, step_in, actor: Principal, ctx: ComplaintContext, reach: set[str] | None
):
    now = ctx.clock()
    action = step_in.action
    with db.write() as s:
        c = load_visible(s, complaint_id, actor, lock=True, reach=reach)
        steps = load_steps(s, c.id)
        d = compute_deadline(c.received_at, step_views(steps), ctx.rules, now)
        allowed = allowed_actions(c.state, d.is_paused)
        if not ACTION_RULES.get(action, STAFF).admits(actor.role):
            raise Forbidden(f"The role '{actor.role}' may not {action} a complaint", code="role_forbidden")
        if action not in allowed:
            raise Conflict(
                f"'{action}' is not allowed while the complaint is {c.state}"
                + (" and paused" if d.is_paused else "")
                + f"; allowed: {', '.join(allowed) or 'nothing'}",
                code="complaint_transition_illegal",
                state=c.state,
                allowed_actions=allowed,
            )
        data, to_state = _step_data(c, step_in, actor, d, steps, ctx, now)
        if action == "extend" and ctx.approvals is not None and "approved_by" in data:
            payload = {"complaint_id": str(c.id), "note": getattr(step_in, "note", None), **data}
            del payload["approved_by"]
            row = ctx.approvals.request(
                s, action=EXTEND, object_id=str(c.id), payload=payload, why="second_extension", maker=actor, now=now,
                to_days=data["to_days"],
            )  # fmt: skip
            s.commit()
            return row
        step = append_step(
            s,
            c,
            action=action,
            to_state=to_state or c.state,
            actor=actor,
            at=now,
            note=ctx.vault.seal(getattr(step_in, "note", None), NOTE_FIELD),
            data=seal_step_data(ctx.vault, data),
        )
        s.flush()
        steps.append(step)
        result = present_complaint(c, steps, ctx)
        _events(s, c, action, data, now, ctx)
        s.commit()
        return result


def _step_data(
    c: Complaint,
    step_in,
    actor: Principal,
    d: Deadline,
    steps: list[ComplaintStep],
    ctx: ComplaintContext,
    now: datetime,
) -> tuple[dict, str | None]:
    """The rule checks of one action and the data its step records; the new state or None."""
    action = step_in.action
    to_state = TRANSITIONS[action][1]
    if action == "assign":
        if c.staff_complained_about and step_in.handler_sub == c.staff_complained_about:
            raise Conflict("The handler may not be the staff member complained about", code="complaint_handler_recused")
        c.handler_sub = step_in.handler_sub
        return {"handler_sub": step_in.handler_sub}, to_state
    if action in ("investigate", "decide") and c.staff_complained_about == actor.sub:
        raise Conflict(
            "The staff member complained about may not handle the complaint", code="complaint_handler_recused"
        )
    if action == "investigate" and c.handler_sub is None:
        raise Conflict("Assign a handler before investigating", code="complaint_handler_required")
    if action == "extend":
        return _extension(step_in, actor, d, ctx, now), to_state
    if action == "pause":
        return {"reason": step_in.reason, "notice_sent_at": iso_time(step_in.notice_sent_at)}, to_state
    if action == "decide":
        return _decision(step_in, d, now), to_state
    if action == "request_review":
        if d.review_request_due_at is not None and now > d.review_request_due_at:
            raise Conflict("The window to request a review has passed", code="complaint_review_window_closed")
        return {"reason": step_in.reason}, to_state
    if action == "decide_review":
        decider = next(st.actor_sub for st in reversed(steps) if st.action == "decide")
        if actor.sub in (decider, c.handler_sub, c.staff_complained_about):
            raise Conflict(
                "A review is decided by someone of a higher unit than the first decision",
                code="complaint_review_recused",
            )
        data = step_in.model_dump(mode="json", exclude={"action", "note"})
        data["on_time"] = d.review_decision_due_at is None or now <= d.review_decision_due_at
        return data, to_state
    if action == "close" and c.customer_id and ctx.handling_survey_id:
        return {"survey_invitation": ctx.handling_survey_id}, to_state
    return {}, to_state


def _decision(step_in: Any, d: Deadline, now: datetime) -> dict[str, Any]:
    """A decision's data: a refund amount with a refund and only then, communicated no later than now,
    and whether it came within the deadline."""
    refund = step_in.remedy.refund_amount
    if ("refund" in step_in.remedy.kinds) != (refund is not None):
        raise InvalidInput(
            [
                {
                    "loc": ["body", "remedy", "refund_amount"],
                    "msg": "required with a refund and only then",
                    "type": "refund_amount",
                }
            ]
        )
    if step_in.communicated_at > now:
        raise InvalidInput([{"loc": ["body", "communicated_at"], "msg": "cannot be in the future", "type": "future"}])
    data: dict[str, Any] = step_in.model_dump(mode="json", exclude={"action", "note"})
    data["on_time"] = now <= d.due_at
    return data


def _extension(step_in, actor: Principal, d: Deadline, ctx: ComplaintContext, now: datetime) -> dict:
    rules = ctx.rules
    if d.overdue:
        raise Conflict("The deadline has already passed; it can no longer be extended", code="complaint_overdue")
    if d.limit_days >= rules.max_days:
        raise Conflict(
            f"The deadline is already at its maximum of {rules.max_days} days", code="complaint_extension_exhausted"
        )
    if d.limit_days < rules.extended_days:
        return {"to_days": rules.extended_days, "reason": step_in.reason}
    if ctx.approvals is None and not SUPERVISOR.admits(actor.role):
        raise Forbidden("A second extension needs a supervisor's approval", code="extension_approval_required")
    if step_in.notice_sent_at is None:
        raise InvalidInput(
            [
                {
                    "loc": ["body", "notice_sent_at"],
                    "msg": "a second extension needs the notice to the complainant",
                    "type": "missing",
                }
            ]
        )
    return {
        "to_days": rules.max_days,
        "reason": step_in.reason,
        "approved_by": actor.sub,
        "notice_sent_at": iso_time(step_in.notice_sent_at),
    }


def extension_executor(ctx: ComplaintContext) -> Executor:
    def extend_approved(s: Session, row: Approval, checker: Principal, now: datetime) -> dict[str, Any]:
        """Appends the second extension in the maker's name, approved by the checker, if the complaint
        still allows it (409 otherwise: the request stays pending, and a checker rejects it)."""
        p, maker = row["payload"], maker_of(row)
        c = load_visible(s, uuid.UUID(p["complaint_id"]), checker, lock=True)
        steps = load_steps(s, c.id)
        d = compute_deadline(c.received_at, step_views(steps), ctx.rules, now)
        if "extend" not in allowed_actions(c.state, d.is_paused):
            raise Conflict(
                f"The complaint is {c.state}; it can no longer be extended", code="complaint_transition_illegal"
            )
        if d.overdue:
            raise Conflict("The deadline has already passed; it can no longer be extended", code="complaint_overdue")
        if d.limit_days != ctx.rules.extended_days:
            raise Conflict("The complaint's time limit changed since the request", code="complaint_extension_exhausted")
        data = {
            "to_days": p["to_days"],
            "reason": p["reason"],
            "approved_by": checker.sub,
            "notice_sent_at": p["notice_sent_at"],
            "approval_id": row["id"],
        }
        append_step(s, c, action="extend", to_state=c.state, actor=maker, at=now, note=p.get("note"), data=data)
        return {"to_days": p["to_days"]}

    return extend_approved


def _events(s: Session, c: Complaint, action: str, data: dict, now: datetime, ctx: ComplaintContext) -> None:
    subject = c.customer_id or str(c.id)
    if action == "decide":
        record_event(
            s,
            outbox,
            type="complaint.decided",
            subject_id=subject,
            occurred_at=now,
            data={"complaint_id": str(c.id), "outcome": data["outcome"], "decided_at": iso_time(now)},
        )
    elif action in ("close", "withdraw"):
        if action == "close" and "survey_invitation" in data:
            _invite(s, c, data["survey_invitation"], now)
        record_event(
            s,
            outbox,
            type="complaint.closed",
            subject_id=subject,
            occurred_at=now,
            data={
                "complaint_id": str(c.id),
                "closed_at": iso_time(now),
                "reason": "withdrawn" if action == "withdraw" else "handled",
            },
        )


def _invite(s: Session, c: Complaint, survey_id: str, now: datetime) -> None:
    """Asks the customer's satisfaction with the handling through the configured survey
    (FEEDBACK_HANDLING_SURVEY_ID, published); records survey.invited, which loyalty's inbox shows."""
    try:
        sid = uuid.UUID(survey_id)
    except ValueError:
        return
    if s.execute(select(Survey.id).where(Survey.id == sid, Survey.state == "published").limit(1)).first() is None:
        return
    invitation = SurveyInvitation(survey_id=sid, customer_id=c.customer_id, complaint_id=c.id, created_at=now)
    s.add(invitation)
    s.flush()
    record_event(
        s,
        outbox,
        type="survey.invited",
        subject_id=str(c.customer_id),
        occurred_at=now,
        data={
            "invitation_id": invitation.id,
            "survey_id": str(sid),
            "reason": "complaint_closed",
            "complaint_id": str(c.id),
            "invited_at": iso_time(now),
        },
    )
