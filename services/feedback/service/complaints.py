"""Complaints: intake, the explicit state machine, recusal, the complaint as read with its deadline
(see deadlines.py), code lists and lists. Each write is one transaction that appends its step and
records its outbox event."""

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.access import CUSTOMER_OR_STAFF, SUPERVISOR, AccessRule
from services.common.approvals import ApprovalBook
from services.common.audit_chain import append as append_audit
from services.common.auth import Principal
from services.common.branch_scope import in_reach
from services.common.branches import check_in_reach
from services.common.db import Database
from services.common.errors import Forbidden, InvalidInput, NotFound
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.money import fen_to_str, str_to_fen
from services.common.outbox import record_event
from services.common.pagination import newest_first, page_of, time_id_key
from services.common.personal_data import record_reveal
from services.common.pii import Mask, PersonalDataVault
from services.feedback.models import (
    COMPLAINT_STEPS,
    CodeEntry,
    Complaint,
    ComplaintStep,
    audit_chain,
    idempotency,
    outbox,
    personal_data_access,
)
from services.feedback.schemas.complaints import (
    CodeLists,
    CodeRead,
    ComplaintCreate,
    ComplaintRead,
    ComplaintSummary,
    DeadlineRead,
    RepresentativeRead,
    StepRead,
)
from services.feedback.service.deadlines import Deadline, DeadlineRules, StepView, compute_deadline
from services.feedback.service.free_text import DESCRIPTION_FIELD, NOTE_FIELD, open_step_data, open_text

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
# Who may take an action, from the access catalogue; an action not listed here: STAFF.
ACTION_RULES: dict[str, AccessRule] = {
    "withdraw": CUSTOMER_OR_STAFF,
    "request_review": CUSTOMER_OR_STAFF,
    "decide_review": SUPERVISOR,
}
NAME_FIELD, CONTACT_FIELD, REP_FIELD = "complaint.complainant_name", "complaint.complainant_contact", "complaint.rep"
NAME_MASK, CONTACT_MASK = Mask(1, 0), Mask(3, 4)
IDEM_FIELD = "idempotency.response"


@dataclass(frozen=True)
class ComplaintContext:
    rules: DeadlineRules
    vault: PersonalDataVault
    clock: Callable[[], datetime]
    handling_survey_id: str = ""
    reveal_roles: frozenset[str] = frozenset({"supervisor", "admin"})  # who may read free text in full
    # The second extension under dual control (services.common.approvals); None: a supervisor alone.
    approvals: ApprovalBook | None = None


def complaint_not_found(complaint_id: Any) -> NotFound:
    return NotFound(f"No complaint {complaint_id}", code="complaint_not_found")


def allowed_actions(state: str, is_paused: bool) -> list[str]:
    allowed = [a for a, (states, _) in TRANSITIONS.items() if state in states]
    if is_paused:
        return [a for a in allowed if a not in ("pause", "decide")]
    return [a for a in allowed if a != "resume"]


def step_views(steps: list[ComplaintStep] | list[StepRead]) -> list[StepView]:
    return [StepView(s.action, s.at, s.data or {}) for s in steps]


def _deadline(c: Complaint, steps: list[ComplaintStep], ctx: ComplaintContext) -> Deadline:
    return compute_deadline(c.received_at, step_views(steps), ctx.rules, ctx.clock())


def open_step(step: ComplaintStep, vault: PersonalDataVault, *, full: bool) -> StepRead:
    """A step as read: its note and the free text in its data decrypted, masked unless `full`."""
    return StepRead(
        id=step.id or 0,
        action=step.action,
        from_state=step.from_state,
        to_state=step.to_state,
        actor_sub=step.actor_sub,
        actor_role=step.actor_role,
        at=step.at,
        note=open_text(vault, step.note, NOTE_FIELD, full=full),
        data=open_step_data(vault, step.data or {}, full=full),
    )


def present_complaint(
    c: Complaint, steps: list[ComplaintStep], ctx: ComplaintContext, *, full: bool = False
) -> ComplaintRead:
    """The complaint as read: the complainant's values masked; its free text (description, step notes
    and the text in step data) with the values inside masked, or in full when `full` (a reveal)."""
    v = ctx.vault
    opened = [open_step(st, v, full=full) for st in steps]
    d = compute_deadline(c.received_at, step_views(opened), ctx.rules, ctx.clock())
    rep = json.loads(v.decrypt(c.representative_enc, REP_FIELD)) if c.representative_enc else None
    decision = next((st.data for st in reversed(opened) if st.action == "decide"), None)
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
        description=open_text(v, c.description, DESCRIPTION_FIELD, full=full) or "",
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
        steps=opened,
    )


def summarise(c: Complaint, d: Deadline) -> ComplaintSummary:
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


def load_steps(s: Session, complaint_id: uuid.UUID) -> list[ComplaintStep]:
    stmt = select(ComplaintStep).where(ComplaintStep.complaint_id == complaint_id).order_by(ComplaintStep.id)
    return list(s.execute(stmt).scalars())


def append_step(
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
    s.flush()
    append_audit(
        s,
        audit_chain,
        action=f"complaint.{action}",
        actor_sub=actor.sub,
        actor_role=actor.role,
        subject=str(c.id),
        at=at,
        detail=COMPLAINT_STEPS.detail(step),
    )
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
    reach: set[str] | None = None,
) -> ComplaintRead | StoredResponse:
    """Records the complaint and its `received` step and emits complaint.opened (with the first due date).
    Staff file only at a branch within their `reach` (422 out_of_reach)."""
    check_in_reach(complaint_in.branch_code, reach)
    now = ctx.clock()
    received_at = _received_at(complaint_in, actor, now)
    with db.write() as s:
        if idem is not None and (stored := find_stored(s, idempotency, idem)) is not None:
            return StoredResponse(stored.status_code, ctx.vault.unseal_document(stored.body, IDEM_FIELD))
        _check_codes(s, complaint_in)
        customer_id = str(complaint_in.customer_id) if complaint_in.customer_id else None
        related = _related(s, complaint_in, customer_id)
        c = _new_complaint(complaint_in, customer_id, related, received_at, actor, ctx.vault)
        s.add(c)
        s.flush()
        step = append_step(s, c, action="receive", to_state="received", actor=actor, at=received_at)
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
                "received_at": iso_time(received_at),
                "due_at": iso_time(result.deadline.due_at),
            },
        )
        if idem is not None:
            # sealed: the answer holds the complaint's words
            store_response(
                s, idempotency, idem, 201, ctx.vault.seal_document(result.model_dump(mode="json"), IDEM_FIELD)
            )
        s.commit()
        return result


def _received_at(complaint_in: ComplaintCreate, actor: Principal, now: datetime) -> datetime:
    """When the complaint arrived: now for a customer filing as itself; staff may record an earlier
    time (a letter, a call), never a later one. 403 complaint_forbidden, 422 customer_id or received_at."""
    if actor.is_customer and complaint_in.customer_id is not None and str(complaint_in.customer_id) != actor.sub:
        raise Forbidden("A customer files complaints only as itself", code="complaint_forbidden")
    if actor.is_customer and complaint_in.customer_id is None:
        raise InvalidInput([{"loc": ["body", "customer_id"], "msg": "a customer files as itself", "type": "missing"}])
    received_at = complaint_in.received_at or now
    if received_at > now:
        raise InvalidInput([{"loc": ["body", "received_at"], "msg": "cannot be in the future", "type": "future"}])
    return now if actor.is_customer else received_at  # only staff record when a letter or a call arrived


def _new_complaint(
    complaint_in: ComplaintCreate,
    customer_id: str | None,
    related: uuid.UUID | None,
    received_at: datetime,
    actor: Principal,
    vault: PersonalDataVault,
) -> Complaint:
    """The complaint row as received, the complainant's and representative's details encrypted."""
    who, rep = complaint_in.complainant, complaint_in.representative
    return Complaint(
        customer_id=customer_id,
        complainant_name_enc=vault.encrypt(who.name, NAME_FIELD) if who else None,
        complainant_contact_enc=vault.encrypt(who.contact, CONTACT_FIELD) if who else None,
        channel=complaint_in.channel,
        business_type=complaint_in.business_type,
        cause=complaint_in.cause,
        amount_fen=str_to_fen(complaint_in.amount) if complaint_in.amount is not None else None,
        description=vault.seal(complaint_in.description, DESCRIPTION_FIELD) or "",
        branch_code=complaint_in.branch_code,
        staff_complained_about=complaint_in.staff_complained_about,
        representative_enc=vault.encrypt(json.dumps(rep.model_dump(), ensure_ascii=False), REP_FIELD) if rep else None,
        related_complaint_id=related,
        state="received",
        received_at=received_at,
        created_by=actor.sub,
        version=0,
    )


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


def iso_time(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def load_visible(
    s: Session, complaint_id: uuid.UUID, actor: Principal, *, lock: bool = False, reach: set[str] | None = None
) -> Complaint:
    """The complaint, 404 for a customer's other than its own and for one filed at a branch out of
    `reach` (the caller's subtree; None: every branch)."""
    stmt = select(Complaint).where(Complaint.id == complaint_id)
    if lock and s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    c = s.execute(stmt).scalar()
    if c is None or (actor.is_customer and c.customer_id != actor.sub):
        raise complaint_not_found(complaint_id)
    if reach is not None and c.branch_code not in reach:
        raise complaint_not_found(complaint_id)
    return c


def get_complaint(
    db: Database,
    *,
    complaint_id: uuid.UUID,
    actor: Principal,
    ctx: ComplaintContext,
    reveal_purpose: str | None = None,
    now: datetime | None = None,
    reach: set[str] | None = None,
) -> ComplaintRead:
    """The complaint with its free text masked; with `reveal_purpose`, in full for a reveal role (403
    reveal_forbidden otherwise), the read written to the access log in the same transaction."""
    if reveal_purpose is None:
        with db.read() as s:
            c = load_visible(s, complaint_id, actor, reach=reach)
            return present_complaint(c, load_steps(s, c.id), ctx)
    if actor.role not in ctx.reveal_roles:
        raise Forbidden("This role may not read free text in full", code="reveal_forbidden")
    with db.write() as s:
        c = load_visible(s, complaint_id, actor, reach=reach)
        result = present_complaint(c, load_steps(s, c.id), ctx, full=True)
        record_reveal(
            s, personal_data_access, what=f"complaint:{c.id}", customer_id=c.customer_id, purpose=reveal_purpose,
            actor=actor, now=now or ctx.clock(), chain=audit_chain,
        )  # fmt: skip
        s.commit()
        return result


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
    codes: dict[str, str | None] | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    reach: set[str] | None = None,
) -> tuple[list[ComplaintSummary], str | None]:
    """Newest first; a customer sees only its own. Filters are on the plain columns (the free text is
    encrypted): state, branch, customer, the channel, business type and cause codes, and the
    received time in [received_from, received_to); and to the branches in `reach` (None: every one)."""
    stmt = select(Complaint).where(in_reach(Complaint.branch_code, reach))
    if actor.is_customer:
        customer_id = actor.sub
    codes = codes or {}
    for column, value in (
        (Complaint.state, state),
        (Complaint.branch_code, branch_code),
        (Complaint.customer_id, customer_id),
        (Complaint.channel, codes.get("channel")),
        (Complaint.business_type, codes.get("business_type")),
        (Complaint.cause, codes.get("cause")),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if received_from is not None:
        stmt = stmt.where(Complaint.received_at >= received_from)
    if received_to is not None:
        stmt = stmt.where(Complaint.received_at < received_to)
    stmt = newest_first(stmt, Complaint.received_at, Complaint.id, cursor, limit)
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
        steps = steps_by_complaint(s, [c.id for c in rows[:limit]])
    page, next_cursor = page_of(rows, limit, key=time_id_key("received_at"))
    now = ctx.clock()
    return [
        summarise(c, compute_deadline(c.received_at, step_views(steps[c.id]), ctx.rules, now)) for c in page
    ], next_cursor


def steps_by_complaint(s: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ComplaintStep]]:
    out: dict[uuid.UUID, list[ComplaintStep]] = {i: [] for i in ids}
    if ids:
        stmt = select(ComplaintStep).where(col(ComplaintStep.complaint_id).in_(ids)).order_by(ComplaintStep.id)
        for step in s.execute(stmt).scalars():
            out[step.complaint_id].append(step)
    return out
