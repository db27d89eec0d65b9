"""Surveys (versioned; a published version never changes), responses validated against the question
types, detractor follow-ups and the survey.responded event."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exc, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database, is_unique_violation, table_of
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.etag import check_version
from services.common.outbox import record_event
from services.common.pagination import decode_cursor, decode_time_id, page_of
from services.feedback.models import (
    CustomerRef,
    CustomerSegment,
    FollowUp,
    Survey,
    SurveyAnswer,
    SurveyResponse,
    outbox,
)
from services.feedback.schemas.surveys import (
    SCALES,
    FollowUpOutcome,
    ResponseCreate,
    ResponseRead,
    ResponseScores,
    SurveyCreate,
    SurveyRead,
)

STAFF = frozenset({"staff", "supervisor", "admin"})


@dataclass(frozen=True)
class SurveyContext:
    clock: Callable[[], datetime]
    follow_up_hours: int = 48
    small_sample: int = 30
    free_text_max: int = 2000


def survey_not_found(survey_id: Any) -> NotFound:
    return NotFound(f"No survey {survey_id}", code="survey_not_found")


def present_survey(sv: Survey) -> SurveyRead:
    audience: dict[str, Any] = {"kind": sv.audience_kind}
    if sv.audience_kind == "branch":
        audience["branch_code"] = sv.audience_value
    elif sv.audience_kind == "segment":
        audience["scheme"], _, audience["segment_class"] = (sv.audience_value or "").partition(":")
    return SurveyRead(
        id=sv.id,
        version=sv.version,
        state=sv.state,
        title=sv.title,
        questions=sv.questions,
        audience=audience,
        channel=sv.channel,
        opens_at=sv.opens_at,
        closes_at=sv.closes_at,
        allow_update=sv.allow_update,
        created_at=sv.created_at,
        published_at=sv.published_at,
        revision=sv.revision,
    )


def _content(survey_in: SurveyCreate, ctx: SurveyContext) -> dict[str, Any]:
    """A survey version's content from the request; 422 naming a free-text limit above the setting."""
    errors = [
        {"loc": ["body", "questions", i, "max_chars"], "msg": f"at most {ctx.free_text_max}", "type": "too_large"}
        for i, q in enumerate(survey_in.questions)
        if q.max_chars is not None and q.max_chars > ctx.free_text_max
    ]
    if errors:
        raise InvalidInput(errors)
    a = survey_in.audience
    return {
        "title": survey_in.title,
        "questions": [q.model_dump(exclude_none=True) for q in survey_in.questions],
        "audience_kind": a.kind,
        "audience_value": (
            a.branch_code if a.kind == "branch" else f"{a.scheme}:{a.segment_class}" if a.kind == "segment" else None
        ),
        "channel": survey_in.channel,
        "opens_at": survey_in.opens_at,
        "closes_at": survey_in.closes_at,
        "allow_update": survey_in.allow_update,
    }


def create_survey(db: Database, *, survey_in: SurveyCreate, actor: Principal, ctx: SurveyContext) -> SurveyRead:
    content = _content(survey_in, ctx)
    sv = Survey(id=uuid.uuid4(), version=1, state="draft", created_by=actor.sub, created_at=ctx.clock(), **content)
    with db.write() as s:
        s.add(sv)
        s.commit()
        return present_survey(sv)


def _latest(s: Session, survey_id: uuid.UUID, *, published_only: bool = False, lock: bool = False) -> Survey | None:
    stmt = select(Survey).where(Survey.id == survey_id).order_by(col(Survey.version).desc()).limit(1)
    if published_only:
        stmt = stmt.where(Survey.state == "published")
    if lock and s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return s.execute(stmt).scalar()


def get_survey(db: Database, *, survey_id: uuid.UUID, actor: Principal, version: int | None = None) -> SurveyRead:
    """The latest version (a customer sees only published versions), or the one asked for."""
    with db.read() as s:
        if version is not None:
            sv = s.get(Survey, (survey_id, version))
            if sv is not None and actor.is_customer and sv.state != "published":
                sv = None
        else:
            sv = _latest(s, survey_id, published_only=actor.is_customer)
    if sv is None:
        raise survey_not_found(survey_id)
    return present_survey(sv)


def list_surveys(
    db: Database, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[SurveyRead], str | None]:
    """The latest version of each survey (published ones for customers), by id."""
    after = decode_cursor(cursor, (str,))
    inner = select(Survey.id, func.max(Survey.version).label("v"))
    if actor.is_customer:
        inner = inner.where(Survey.state == "published")
    inner = inner.group_by(Survey.id).subquery()
    stmt = select(Survey).join(inner, (Survey.id == inner.c.id) & (Survey.version == inner.c.v)).order_by(Survey.id)
    if after is not None:
        try:
            stmt = stmt.where(Survey.id > uuid.UUID(after[0]))
        except ValueError:
            decode_cursor("!", (str,))
    with db.read() as s:
        rows = list(s.execute(stmt.limit(limit + 1)).scalars())
    page, next_cursor = page_of(rows, limit, key=lambda sv: [str(sv.id)])
    return [present_survey(sv) for sv in page], next_cursor


def edit_survey(
    db: Database,
    *,
    survey_id: uuid.UUID,
    survey_in: SurveyCreate,
    actor: Principal,
    ctx: SurveyContext,
    expected_revision: int | None,
) -> SurveyRead:
    """A draft is edited in place; editing a published survey makes a new draft version. 412 when
    `expected_revision` is not the survey's current revision."""
    with db.write() as s:
        latest = _latest(s, survey_id, lock=True)
        if latest is None:
            raise survey_not_found(survey_id)
        check_version(latest.revision, expected_revision)
        content = _content(survey_in, ctx)
        sv = latest
        if latest.state == "published":
            sv = Survey(
                id=survey_id,
                version=latest.version + 1,
                state="draft",
                created_by=actor.sub,
                created_at=ctx.clock(),
                revision=latest.revision,
                **content,
            )
            s.add(sv)
        else:
            for name, value in content.items():
                setattr(sv, name, value)
        sv.revision += 1
        s.commit()
        return present_survey(sv)


def publish_survey(
    db: Database, *, survey_id: uuid.UUID, ctx: SurveyContext, expected_revision: int | None
) -> SurveyRead:
    with db.write() as s:
        sv = _latest(s, survey_id, lock=True)
        if sv is None:
            raise survey_not_found(survey_id)
        check_version(sv.revision, expected_revision)
        if sv.state == "published":
            raise Conflict(
                f"Version {sv.version} is already published; edit to make a new one", code="survey_already_published"
            )
        sv.state, sv.published_at, sv.revision = "published", ctx.clock(), sv.revision + 1
        s.commit()
        return present_survey(sv)


def _validate_answers(questions: list[dict], answers: dict[str, Any], free_text_max: int) -> list[dict]:
    errors: list[dict] = []

    def bad(qid: str, msg: str, kind: str) -> None:
        errors.append({"loc": ["body", "answers", qid], "msg": msg, "type": kind})

    known = {q["id"] for q in questions}
    for qid in answers:
        if qid not in known:
            bad(qid, "not a question of this survey", "unknown_question")
    for q in questions:
        qid, kind, value = q["id"], q["type"], answers.get(q["id"])
        if value is None:
            if q.get("required", True):
                bad(qid, "an answer is required", "missing")
            continue
        if kind in SCALES:
            low, high = SCALES[kind]
            if not isinstance(value, int) or not low <= value <= high:
                bad(qid, f"a whole number from {low} to {high}", "out_of_range")
        elif kind == "single_choice":
            if not isinstance(value, str) or value not in q["options"]:
                bad(qid, "one of the question's options", "invalid_choice")
        elif kind == "multiple_choice":
            if (
                not isinstance(value, list)
                or not value
                or len(set(value)) != len(value)
                or any(v not in q["options"] for v in value)
            ):
                bad(qid, "a non-empty list of distinct options of the question", "invalid_choice")
        elif kind == "free_text":
            cap = min(q.get("max_chars") or free_text_max, free_text_max)
            if not isinstance(value, str) or not value.strip():
                bad(qid, "non-empty text", "invalid_text")
            elif len(value) > cap:
                bad(qid, f"at most {cap} characters", "too_long")
    return errors


def _first_of(questions: list[dict], answers: dict[str, Any], kind: str) -> int | None:
    return next((answers[q["id"]] for q in questions if q["type"] == kind and q["id"] in answers), None)


def _answer_rows(r: SurveyResponse, questions: list[dict], answers: dict[str, Any]) -> list[dict]:
    rows = []
    for q in questions:
        value = answers.get(q["id"])
        if value is None:
            continue
        base = {
            "response_id": r.id,
            "survey_id": r.survey_id,
            "responded_at": r.responded_at,
            "question_id": q["id"],
            "value_int": None,
            "choice": None,
            "text": None,
        }
        if q["type"] in SCALES:
            rows.append({**base, "value_int": value})
        elif q["type"] == "single_choice":
            rows.append({**base, "choice": value})
        elif q["type"] == "multiple_choice":
            rows.extend({**base, "choice": v} for v in value)
        else:
            rows.append({**base, "text": value})
    return rows


def _in_audience(s: Session, sv: Survey, ref: CustomerRef | None, customer_id: str) -> bool:
    if sv.audience_kind == "all" or ref is None:
        return True  # the read model may lag behind profile: an unknown customer is not refused
    if sv.audience_kind == "branch":
        return ref.branch_code == sv.audience_value
    scheme, _, cls = (sv.audience_value or "").partition(":")
    return (
        s.get(CustomerSegment, (customer_id, scheme)) is not None
        and s.get(CustomerSegment, (customer_id, scheme)).segment_class == cls
    )


def respond(
    db: Database, *, survey_id: uuid.UUID, response_in: ResponseCreate, actor: Principal, ctx: SurveyContext
) -> tuple[ResponseRead, bool]:
    """Records (or, where the survey allows, replaces) the customer's response; opens a follow-up for
    a detractor answer (NPS 0-6 or CSAT 1-2); emits survey.responded. Returns (response, created)."""
    customer_id = _respondent(response_in, actor)
    now = ctx.clock()
    with db.write() as s:
        sv, ref, existing = _answerable(s, survey_id, customer_id, response_in, now, ctx)
        r = _store_response(s, sv, ref, existing, response_in, actor, customer_id, now)
        follow_up = _follow_up(s, r, ctx, now)
        record_event(
            s,
            outbox,
            type="survey.responded",
            subject_id=customer_id,
            occurred_at=now,
            data={
                "survey_id": str(survey_id),
                "survey_version": sv.version,
                "response_id": str(r.id),
                "channel": r.channel,
                "nps": r.nps,
                "csat": r.csat,
                "ces": r.ces,
                "responded_at": now.isoformat().replace("+00:00", "Z"),
            },
        )
        s.commit()
        return ResponseRead(
            id=r.id,
            survey_id=survey_id,
            survey_version=r.survey_version,
            customer_id=customer_id,
            channel=r.channel,
            answers=response_in.answers,
            nps=r.nps,
            csat=r.csat,
            ces=r.ces,
            entered_by=r.entered_by,
            responded_at=r.responded_at,
            updated_at=r.updated_at,
            follow_up_id=follow_up.id if follow_up else None,
        ), existing is None


def _answerable(
    s: Session, survey_id: uuid.UUID, customer_id: str, response_in: ResponseCreate, now: datetime, ctx: SurveyContext
) -> tuple[Survey, CustomerRef | None, SurveyResponse | None]:
    """The published survey, the customer's reference and earlier response, once the answer may be
    recorded: 404 survey_not_found, 409 survey_not_open / survey_not_for_customer /
    survey_already_answered, 422 for answers that do not fit the questions."""
    sv = _latest(s, survey_id, published_only=True)
    if sv is None:
        raise survey_not_found(survey_id)
    if not sv.opens_at <= now <= sv.closes_at:
        raise Conflict("The survey is not open for answers now", code="survey_not_open")
    errors = _validate_answers(sv.questions, response_in.answers, ctx.free_text_max)
    if errors:
        raise InvalidInput(errors)
    ref = s.get(CustomerRef, customer_id)
    if not _in_audience(s, sv, ref, customer_id):
        raise Conflict("The customer is not in this survey's audience", code="survey_not_for_customer")
    existing = s.execute(
        select(SurveyResponse).where(SurveyResponse.survey_id == survey_id, SurveyResponse.customer_id == customer_id)
    ).scalar()
    if existing is not None and not sv.allow_update:
        raise Conflict(
            "The customer has already answered this survey",
            code="survey_already_answered",
            response_id=str(existing.id),
        )
    return sv, ref, existing


def _store_response(
    s: Session,
    sv: Survey,
    ref: CustomerRef | None,
    existing: SurveyResponse | None,
    response_in: ResponseCreate,
    actor: Principal,
    customer_id: str,
    now: datetime,
) -> SurveyResponse:
    """Writes the response (new, or replacing the earlier one's answers) and its answer rows; a
    concurrent first answer by the same customer is a 409."""
    answers = response_in.answers
    fields: dict[str, Any] = {
        "survey_version": sv.version,
        "channel": response_in.channel or sv.channel,
        "entered_by": actor.sub,
        "updated_at": now,
        "branch_code": ref.branch_code if ref else None,
        "region_type": ref.region_type if ref else None,
        "customer_type": ref.customer_type if ref else None,
        **{k: _first_of(sv.questions, answers, k) for k in ("nps", "csat", "ces")},
    }
    if existing is None:
        r = SurveyResponse(id=uuid.uuid4(), survey_id=sv.id, customer_id=customer_id, responded_at=now, **fields)
        s.add(r)
    else:
        r = existing
        for name, value in fields.items():
            setattr(r, name, value)
        s.execute(delete(SurveyAnswer).where(col(SurveyAnswer.response_id) == r.id))
    try:
        s.flush()
    except exc.IntegrityError as err:  # a concurrent first answer by the same customer
        if is_unique_violation(err):
            raise Conflict("The customer has already answered this survey", code="survey_already_answered") from None
        raise
    rows = _answer_rows(r, sv.questions, answers)
    if rows:
        s.execute(table_of(SurveyAnswer).insert(), rows)
    return r


def _respondent(response_in: ResponseCreate, actor: Principal) -> str:
    if actor.is_customer:
        if response_in.customer_id is not None and str(response_in.customer_id) != actor.sub:
            raise Forbidden("A customer answers only for itself", code="response_forbidden")
        return actor.sub
    if response_in.customer_id is None:
        raise InvalidInput([{"loc": ["body", "customer_id"], "msg": "staff name the customer", "type": "missing"}])
    return str(response_in.customer_id)


def _follow_up(s: Session, r: SurveyResponse, ctx: SurveyContext, now: datetime) -> FollowUp | None:
    reasons = []
    if r.nps is not None and r.nps <= 6:
        reasons.append(f"nps_{r.nps}")
    if r.csat is not None and r.csat <= 2:
        reasons.append(f"csat_{r.csat}")
    if not reasons:
        return None
    open_one = s.execute(select(FollowUp).where(FollowUp.response_id == r.id, FollowUp.status == "open")).scalar()
    if open_one is not None:
        return open_one
    fu = FollowUp(
        response_id=r.id,
        survey_id=r.survey_id,
        customer_id=r.customer_id,
        branch_code=r.branch_code,
        reason=",".join(reasons),
        status="open",
        created_at=now,
        due_at=now + timedelta(hours=ctx.follow_up_hours),
    )
    s.add(fu)
    s.flush()
    return fu


def follow_up_not_found(follow_up_id: Any) -> NotFound:
    return NotFound(f"No follow-up {follow_up_id}", code="follow_up_not_found")


def list_follow_ups(
    db: Database, *, branch_code: str | None, status: str | None, limit: int, cursor: str | None
) -> tuple[list[FollowUp], str | None]:
    """By due time, soonest first."""
    after = decode_time_id(cursor)
    stmt = select(FollowUp).order_by(FollowUp.due_at, FollowUp.id).limit(limit + 1)
    if branch_code is not None:
        stmt = stmt.where(FollowUp.branch_code == branch_code)
    if status is not None:
        stmt = stmt.where(FollowUp.status == status)
    if after is not None:
        at, fid = after
        stmt = stmt.where((FollowUp.due_at > at) | ((FollowUp.due_at == at) & (FollowUp.id > fid)))
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, key=lambda f: [f.due_at.isoformat(), str(f.id)])


def record_follow_up(
    db: Database, *, follow_up_id: uuid.UUID, outcome_in: FollowUpOutcome, actor: Principal, ctx: SurveyContext
) -> FollowUp:
    with db.write() as s:
        fu = s.get(FollowUp, follow_up_id)
        if fu is None:
            raise follow_up_not_found(follow_up_id)
        if fu.status == "done":
            raise Conflict("The follow-up's outcome is already recorded", code="follow_up_done")
        fu.status, fu.outcome, fu.note = "done", outcome_in.outcome, outcome_in.note
        fu.completed_by, fu.completed_at = actor.sub, ctx.clock()
        s.commit()
        return fu


def list_customer_responses(
    db: Database, *, customer_id: str, limit: int, cursor: str | None
) -> tuple[list[ResponseScores], str | None]:
    """A customer's responses to every survey, newest first, scores only."""
    after = decode_time_id(cursor)
    stmt = (
        select(SurveyResponse)
        .where(SurveyResponse.customer_id == customer_id)
        .order_by(col(SurveyResponse.responded_at).desc(), col(SurveyResponse.id).desc())
        .limit(limit + 1)
    )
    if after is not None:
        at, rid = after
        stmt = stmt.where(
            (SurveyResponse.responded_at < at) | ((SurveyResponse.responded_at == at) & (SurveyResponse.id < rid))
        )
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    page, next_cursor = page_of(rows, limit, key=lambda r: [r.responded_at.isoformat(), str(r.id)])
    items = [
        ResponseScores(
            response_id=r.id,
            survey_id=r.survey_id,
            survey_version=r.survey_version,
            channel=r.channel,
            nps=r.nps,
            csat=r.csat,
            ces=r.ces,
            responded_at=r.responded_at,
        )
        for r in page
    ]
    return items, next_cursor
