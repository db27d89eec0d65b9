"""Complaints: intake, the explicit state machine, append-only steps, recusal, deadlines from the
steps (see deadlines.py), escalation lists and the overdue sweep. Each write is one transaction that
appends its step and records its outbox event."""

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.money import fen_to_str, str_to_fen
from services.common.outbox import record_event
from services.common.pagination import decode_time_id, page_of
from services.common.pii import Mask, PersonalDataVault
from services.feedback.models import CodeEntry, Complaint, ComplaintStep, Survey, SurveyInvitation, idempotency, outbox
from services.feedback.schemas.complaints import (
    CodeLists,
    CodeRead,
    ComplaintCreate,
    ComplaintRead,
    ComplaintSummary,
    DeadlineRead,
    Escalations,
    RepresentativeRead,
    StepRead,
    SweepResult,
)
from services.feedback.service.deadlines import Deadline, DeadlineRules, StepView, compute_deadline

STAFF = frozenset({"staff", "supervisor", "admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})
OPEN = frozenset({"received", "acknowledged", "investigating"})
ALL_STATES = OPEN | {"decided", "closed", "withdrawn", "review_requested", "review_decided"}
# action -> (states it is allowed in, state it leads to; None keeps the state)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "acknowledge": (frozenset({"received"}), "acknowledged"),
    "assign": (OPEN, None),
    "investigate": (frozenset({"acknowledged"}), "investigating"),
    "extend": (OPEN, None),
    "pause": (OPEN, None),
    "resume": (OPEN, None),
    "add_facts": (OPEN, None),
    "decide": (frozenset({"investigating"}), "decided"),
    "withdraw": (OPEN, "withdrawn"),
    "close": (frozenset({"decided", "review_decided"}), "closed"),
    "request_review": (frozenset({"decided"}), "review_requested"),
    "decide_review": (frozenset({"review_requested"}), "review_decided"),
    "note": (ALL_STATES, None),
}
ACTION_ROLES: dict[str, frozenset[str]] = {
    "withdraw": STAFF | {"customer"},
    "request_review": STAFF | {"customer"},
    "decide_review": SUPERVISORS,
}
NAME_FIELD, CONTACT_FIELD, REP_FIELD = "complaint.complainant_name", "complaint.complainant_contact", "complaint.rep"
NAME_MASK, CONTACT_MASK = Mask(1, 0), Mask(3, 4)


@dataclass(frozen=True)
class ComplaintContext:
    rules: DeadlineRules
    vault: PersonalDataVault
    clock: Callable[[], datetime]
    handling_survey_id: str = ""


def complaint_not_found(complaint_id: Any) -> NotFound:
    return NotFound(f"No complaint {complaint_id}", code="complaint_not_found")


def allowed_actions(state: str, is_paused: bool) -> list[str]:
    allowed = [a for a, (states, _) in TRANSITIONS.items() if state in states]
    if is_paused:
        return [a for a in allowed if a not in ("pause", "decide")]
    return [a for a in allowed if a != "resume"]


def _views(steps: list[ComplaintStep]) -> list[StepView]:
    return [StepView(s.action, s.at, s.data or {}) for s in steps]


def _deadline(c: Complaint, steps: list[ComplaintStep], ctx: ComplaintContext) -> Deadline:
    return compute_deadline(c.received_at, _views(steps), ctx.rules, ctx.clock())


def present_complaint(c: Complaint, steps: list[ComplaintStep], ctx: ComplaintContext) -> ComplaintRead:
    d = _deadline(c, steps, ctx)
    v = ctx.vault
    rep = json.loads(v.decrypt(c.representative_enc, REP_FIELD)) if c.representative_enc else None
    decision = next((s.data for s in reversed(steps) if s.action == "decide"), None)
    return ComplaintRead(
        id=c.id,
        customer_id=c.customer_id,
        complainant_name=NAME_MASK.apply(v.decrypt(c.complainant_name_enc, NAME_FIELD))
        if c.complainant_name_enc
        else None,
        complainant_contact=CONTACT_MASK.apply(v.decrypt(c.complainant_contact_enc, CONTACT_FIELD))
        if c.complainant_contact_enc
        else None,
        channel=c.channel,
        business_type=c.business_type,
        cause=c.cause,
        amount=fen_to_str(c.amount_fen) if c.amount_fen is not None else None,
        description=c.description,
        branch_code=c.branch_code,
        staff_complained_about=c.staff_complained_about,
        representative=RepresentativeRead(
            kind=rep["kind"], name=NAME_MASK.apply(rep["name"]), proof_ref=rep["proof_ref"]
        )
        if rep
        else None,
        related_complaint_id=c.related_complaint_id,
        handler_sub=c.handler_sub,
        state=c.state,
        received_at=c.received_at,
        version=c.version,
        allowed_actions=allowed_actions(c.state, d.is_paused),
        deadline=DeadlineRead.model_validate(asdict(d)),
        decision=decision,
        steps=[StepRead.model_validate(s) for s in steps],
    )


def _summary(c: Complaint, d: Deadline) -> ComplaintSummary:
    return ComplaintSummary(
        id=c.id,
        customer_id=c.customer_id,
        channel=c.channel,
        business_type=c.business_type,
        cause=c.cause,
        branch_code=c.branch_code,
        handler_sub=c.handler_sub,
        state=c.state,
        received_at=c.received_at,
        due_at=d.due_at,
        days_left=d.days_left,
        at_risk=d.at_risk,
        overdue=d.overdue,
    )


def code_lists(db: Database) -> CodeLists:
    with db.read() as s:
        rows = s.execute(select(CodeEntry).order_by(CodeEntry.list_name, CodeEntry.position)).scalars().all()
    lists: dict[str, list[CodeRead]] = {"channel": [], "business_type": [], "cause": []}
    for r in rows:
        lists.setdefault(r.list_name, []).append(CodeRead(code=r.code, label_zh=r.label_zh, label_en=r.label_en))
    return CodeLists(**lists)


def _check_codes(s: Session, complaint_in: ComplaintCreate) -> None:
    known = {(r.list_name, r.code) for r in s.execute(select(CodeEntry.list_name, CodeEntry.code))}
    errors = [
        {
            "loc": ["body", name],
            "msg": f"not a code of the {name} list (see /v1/complaints/codes)",
            "type": "code_unknown",
        }
        for name in ("channel", "business_type", "cause")
        if (name, getattr(complaint_in, name)) not in known
    ]
    if errors:
        raise InvalidInput(errors)


def _steps(s: Session, complaint_id: uuid.UUID) -> list[ComplaintStep]:
    stmt = select(ComplaintStep).where(ComplaintStep.complaint_id == complaint_id).order_by(ComplaintStep.id)
    return list(s.execute(stmt).scalars())


def _append(
    s: Session,
    c: Complaint,
    *,
    action: str,
    to_state: str,
    actor: Principal,
    at: datetime,
    note: str | None = None,
    data: dict | None = None,
) -> ComplaintStep:
    step = ComplaintStep(
        complaint_id=c.id,
        action=action,
        from_state=c.state,
        to_state=to_state,
        actor_sub=actor.sub,
        actor_role=actor.role,
        at=at,
        note=note,
        data=data or {},
    )
    s.add(step)
    c.state = to_state
    c.version += 1
    return step


def file_complaint(
    db: Database,
    *,
    complaint_in: ComplaintCreate,
    actor: Principal,
    ctx: ComplaintContext,
    idem: IdempotencyRequest | None,
) -> ComplaintRead | StoredResponse:
    """Records the complaint and its `received` step and emits complaint.opened (with the first due date)."""
    now = ctx.clock()
    if actor.is_customer and complaint_in.customer_id is not None and str(complaint_in.customer_id) != actor.sub:
        raise Forbidden("A customer files complaints only as itself", code="complaint_forbidden")
    if actor.is_customer and complaint_in.customer_id is None:
        raise InvalidInput([{"loc": ["body", "customer_id"], "msg": "a customer files as itself", "type": "missing"}])
    received_at = complaint_in.received_at or now
    if received_at > now:
        raise InvalidInput([{"loc": ["body", "received_at"], "msg": "cannot be in the future", "type": "future"}])
    if actor.is_customer:
        received_at = now  # only staff record when a letter or a call arrived
    with db.write() as s:
        if idem is not None and (stored := find_stored(s, idempotency, idem)) is not None:
            return stored
        _check_codes(s, complaint_in)
        customer_id = str(complaint_in.customer_id) if complaint_in.customer_id else None
        related = _related(s, complaint_in, customer_id)
        v = ctx.vault
        who, rep = complaint_in.complainant, complaint_in.representative
        c = Complaint(
            customer_id=customer_id,
            complainant_name_enc=v.encrypt(who.name, NAME_FIELD) if who else None,
            complainant_contact_enc=v.encrypt(who.contact, CONTACT_FIELD) if who else None,
            channel=complaint_in.channel,
            business_type=complaint_in.business_type,
            cause=complaint_in.cause,
            amount_fen=str_to_fen(complaint_in.amount) if complaint_in.amount is not None else None,
            description=complaint_in.description,
            branch_code=complaint_in.branch_code,
            staff_complained_about=complaint_in.staff_complained_about,
            representative_enc=v.encrypt(json.dumps(rep.model_dump(), ensure_ascii=False), REP_FIELD) if rep else None,
            related_complaint_id=related,
            state="received",
            received_at=received_at,
            created_by=actor.sub,
            version=0,
        )
        s.add(c)
        s.flush()
        step = _append(s, c, action="receive", to_state="received", actor=actor, at=received_at)
        s.flush()
        result = present_complaint(c, [step], ctx)
        record_event(
            s,
            outbox,
            type="complaint.opened",
            subject_id=customer_id or str(c.id),
            occurred_at=now,
            data={
                "complaint_id": str(c.id),
                "channel": c.channel,
                "business_type": c.business_type,
                "cause": c.cause,
                "branch_code": c.branch_code,
                "received_at": _iso(received_at),
                "due_at": _iso(result.deadline.due_at),
            },
        )
        if idem is not None:
            store_response(s, idempotency, idem, 201, result.model_dump(mode="json"))
        s.commit()
        return result


def _related(s: Session, complaint_in: ComplaintCreate, customer_id: str | None) -> uuid.UUID | None:
    """An explicit link must exist; otherwise a customer's repeat complaint (same business type and
    cause) links to the first one about that matter."""
    if complaint_in.related_complaint_id is not None:
        if s.get(Complaint, complaint_in.related_complaint_id) is None:
            raise InvalidInput(
                [{"loc": ["body", "related_complaint_id"], "msg": "no such complaint", "type": "not_found"}]
            )
        first = s.get(Complaint, complaint_in.related_complaint_id)
        return first.related_complaint_id or first.id
    if customer_id is None:
        return None
    stmt = (
        select(Complaint.id)
        .where(
            Complaint.customer_id == customer_id,
            Complaint.business_type == complaint_in.business_type,
            Complaint.cause == complaint_in.cause,
            col(Complaint.related_complaint_id).is_(None),
        )
        .order_by(Complaint.received_at)
        .limit(1)
    )
    return s.execute(stmt).scalar()


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _load_visible(s: Session, complaint_id: uuid.UUID, actor: Principal, *, lock: bool = False) -> Complaint:
    stmt = select(Complaint).where(Complaint.id == complaint_id)
    if lock and s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    c = s.execute(stmt).scalar()
    if c is None or (actor.is_customer and c.customer_id != actor.sub):
        raise complaint_not_found(complaint_id)
    return c


def get_complaint(db: Database, *, complaint_id: uuid.UUID, actor: Principal, ctx: ComplaintContext) -> ComplaintRead:
    with db.read() as s:
        c = _load_visible(s, complaint_id, actor)
        return present_complaint(c, _steps(s, c.id), ctx)


def list_complaints(
    db: Database,
    *,
    actor: Principal,
    ctx: ComplaintContext,
    state: str | None,
    branch_code: str | None,
    customer_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ComplaintSummary], str | None]:
    """Newest first; a customer sees only its own."""
    after = decode_time_id(cursor)
    stmt = select(Complaint).order_by(col(Complaint.received_at).desc(), col(Complaint.id).desc()).limit(limit + 1)
    if actor.is_customer:
        customer_id = actor.sub
    for column, value in (
        (Complaint.state, state),
        (Complaint.branch_code, branch_code),
        (Complaint.customer_id, customer_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if after is not None:
        at, cid = after
        stmt = stmt.where((Complaint.received_at < at) | ((Complaint.received_at == at) & (Complaint.id < cid)))
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
        steps = _steps_by_complaint(s, [c.id for c in rows[:limit]])
    page, next_cursor = page_of(rows, limit, key=lambda c: [c.received_at.isoformat(), str(c.id)])
    now = ctx.clock()
    return [
        _summary(c, compute_deadline(c.received_at, _views(steps[c.id]), ctx.rules, now)) for c in page
    ], next_cursor


def _steps_by_complaint(s: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ComplaintStep]]:
    out: dict[uuid.UUID, list[ComplaintStep]] = {i: [] for i in ids}
    if ids:
        stmt = select(ComplaintStep).where(col(ComplaintStep.complaint_id).in_(ids)).order_by(ComplaintStep.id)
        for step in s.execute(stmt).scalars():
            out[step.complaint_id].append(step)
    return out


def open_with_deadlines(s: Session, ctx: ComplaintContext) -> list[tuple[Complaint, list[ComplaintStep], Deadline]]:
    rows = list(
        s.execute(select(Complaint).where(col(Complaint.state).in_(OPEN)).order_by(Complaint.received_at)).scalars()
    )
    steps = _steps_by_complaint(s, [c.id for c in rows])
    now = ctx.clock()
    return [(c, steps[c.id], compute_deadline(c.received_at, _views(steps[c.id]), ctx.rules, now)) for c in rows]


def escalations(db: Database, *, ctx: ComplaintContext) -> Escalations:
    """Open complaints past 80% of their time without a decision (at risk), and those overdue."""
    with db.read() as s:
        rows = open_with_deadlines(s, ctx)
    return Escalations(
        at_risk=[_summary(c, d) for c, _, d in rows if d.at_risk],
        overdue=[_summary(c, d) for c, _, d in rows if d.overdue],
    )


def count_overdue(db: Database, *, ctx: ComplaintContext) -> int:
    with db.read() as s:
        return sum(1 for _, _, d in open_with_deadlines(s, ctx) if d.overdue)


def sweep_overdue(db: Database, *, actor: Principal, ctx: ComplaintContext) -> SweepResult:
    """Flags each overdue complaint once per due date (a `flag_overdue` step) and emits
    complaint.overdue for it; running it again changes nothing."""
    flagged = 0
    with db.write() as s:
        rows = open_with_deadlines(s, ctx)
        overdue = [(c, steps, d) for c, steps, d in rows if d.overdue]
        now = ctx.clock()
        for c, steps, d in overdue:
            due = _iso(d.due_at)
            if any(st.action == "flag_overdue" and st.data.get("due_at") == due for st in steps):
                continue
            _append(s, c, action="flag_overdue", to_state=c.state, actor=actor, at=now, data={"due_at": due})
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


def add_step(
    db: Database, *, complaint_id: uuid.UUID, step_in, actor: Principal, ctx: ComplaintContext
) -> ComplaintRead:
    """Applies one action through the state machine: 409 `complaint_transition_illegal` (with the
    allowed actions) when the state does not allow it, 403 when the role may not take it."""
    now = ctx.clock()
    action = step_in.action
    with db.write() as s:
        c = _load_visible(s, complaint_id, actor, lock=True)
        steps = _steps(s, c.id)
        d = compute_deadline(c.received_at, _views(steps), ctx.rules, now)
        allowed = allowed_actions(c.state, d.is_paused)
        if actor.role not in ACTION_ROLES.get(action, STAFF):
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
        step = _append(
            s,
            c,
            action=action,
            to_state=to_state or c.state,
            actor=actor,
            at=now,
            note=getattr(step_in, "note", None),
            data=data,
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
        return {"reason": step_in.reason, "notice_sent_at": _iso(step_in.notice_sent_at)}, to_state
    if action == "decide":
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
            raise InvalidInput(
                [{"loc": ["body", "communicated_at"], "msg": "cannot be in the future", "type": "future"}]
            )
        data = step_in.model_dump(mode="json", exclude={"action", "note"})
        data["on_time"] = now <= d.due_at
        return data, to_state
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
    if actor.role not in SUPERVISORS:
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
        "notice_sent_at": _iso(step_in.notice_sent_at),
    }


def _events(s: Session, c: Complaint, action: str, data: dict, now: datetime, ctx: ComplaintContext) -> None:
    subject = c.customer_id or str(c.id)
    if action == "decide":
        record_event(
            s,
            outbox,
            type="complaint.decided",
            subject_id=subject,
            occurred_at=now,
            data={"complaint_id": str(c.id), "outcome": data["outcome"], "decided_at": _iso(now)},
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
                "closed_at": _iso(now),
                "reason": "withdrawn" if action == "withdraw" else "handled",
            },
        )


def _invite(s: Session, c: Complaint, survey_id: str, now: datetime) -> None:
    """Asks the customer's satisfaction with the handling through the configured survey."""
    try:
        sid = uuid.UUID(survey_id)
    except ValueError:
        return
    if s.execute(select(Survey.id).where(Survey.id == sid, Survey.state == "published").limit(1)).first() is None:
        return
    s.add(SurveyInvitation(survey_id=sid, customer_id=c.customer_id, complaint_id=c.id, created_at=now))
