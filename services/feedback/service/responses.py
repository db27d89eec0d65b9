"""Survey responses: answers checked against the questions, one response per customer (replaced where
the survey allows), a follow-up for a detractor, survey.responded on the feed; a customer's scores."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exc, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database, is_unique_violation, next_ids_on_sqlite, table_of
from services.common.errors import Conflict, Forbidden, InvalidInput
from services.common.outbox import record_event
from services.common.pagination import newest_first, page_of, time_id_key
from services.common.pii import PersonalDataVault, mask_text
from services.feedback.models import (
    CustomerRef,
    CustomerSegment,
    FollowUp,
    Survey,
    SurveyAnswer,
    SurveyResponse,
    SurveyResponseKey,
    outbox,
)
from services.feedback.schemas.responses import ResponseCreate, ResponseRead, ResponseScores
from services.feedback.schemas.surveys import SCALES
from services.feedback.service.free_text import ANSWER_FIELD
from services.feedback.service.surveys import SurveyContext, latest_version, survey_not_found


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


def _answer_rows(
    r: SurveyResponse, questions: list[dict], answers: dict[str, Any], vault: PersonalDataVault
) -> list[dict]:
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
            rows.append({**base, "text": vault.seal(value, ANSWER_FIELD)})
    return rows


def _echo(questions: list[dict], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers as the response shows them: free text with the values inside masked."""
    free = {q["id"] for q in questions if q["type"] == "free_text"}
    return {k: mask_text(v) if k in free and isinstance(v, str) else v for k, v in answers.items()}


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
        r = _store_response(s, sv, ref, existing, response_in, actor, customer_id, now, ctx.vault)
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
            answers=_echo(sv.questions, response_in.answers),
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
    sv = latest_version(s, survey_id, published_only=True)
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
    key = s.execute(
        select(SurveyResponseKey).where(
            SurveyResponseKey.survey_id == survey_id, SurveyResponseKey.customer_id == customer_id
        )
    ).scalar()
    if key is None:
        return sv, ref, None
    if not sv.allow_update:
        raise Conflict(
            "The customer has already answered this survey",
            code="survey_already_answered",
            response_id=str(key.id),
        )
    # By its full primary key: on PostgreSQL only the partition of its month is read.
    return sv, ref, s.get_one(SurveyResponse, (key.id, key.responded_at))


def _store_response(
    s: Session,
    sv: Survey,
    ref: CustomerRef | None,
    existing: SurveyResponse | None,
    response_in: ResponseCreate,
    actor: Principal,
    customer_id: str,
    now: datetime,
    vault: PersonalDataVault,
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
        r = _first_response(s, sv, customer_id, now, fields)
    else:
        r = existing
        for name, value in fields.items():
            setattr(r, name, value)
        # The response's answers carry its time: on PostgreSQL only its month's partition is read.
        s.execute(
            delete(SurveyAnswer).where(
                col(SurveyAnswer.response_id) == r.id, col(SurveyAnswer.responded_at) == r.responded_at
            )
        )
    s.flush()
    rows = _answer_rows(r, sv.questions, answers, vault)
    if rows:
        s.execute(table_of(SurveyAnswer).insert(), _numbered(s, rows))
    return r


def _numbered(s: Session, rows: list[dict]) -> list[dict]:
    """The answer rows with their ids where the database does not give them: on SQLite the key is (id,
    responded_at), so id is not the row number, and the next ids are those it would hand out itself (one
    writer, BEGIN IMMEDIATE). On PostgreSQL the column's default, the table's sequence, numbers them."""
    if s.get_bind().dialect.name == "postgresql":
        return rows
    ids = next_ids_on_sqlite(s, table_of(SurveyAnswer).c.id, len(rows))
    return [{**row, "id": i} for i, row in zip(ids, rows, strict=True)]


def _first_response(s: Session, sv: Survey, customer_id: str, now: datetime, fields: dict[str, Any]) -> SurveyResponse:
    """The key first: it numbers the response and refuses the customer's second one to the survey in
    any month (a concurrent first answer: 409); then the response, in its month's partition."""
    key = SurveyResponseKey(id=uuid.uuid4(), survey_id=sv.id, customer_id=customer_id, responded_at=now)
    s.add(key)
    try:
        s.flush()
    except exc.IntegrityError as err:
        if is_unique_violation(err):
            raise Conflict("The customer has already answered this survey", code="survey_already_answered") from None
        raise
    r = SurveyResponse(id=key.id, survey_id=sv.id, customer_id=customer_id, responded_at=now, **fields)
    s.add(r)
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


def list_customer_responses(
    db: Database, *, customer_id: str, limit: int, cursor: str | None
) -> tuple[list[ResponseScores], str | None]:
    """A customer's responses to every survey, newest first, scores only."""
    stmt = select(SurveyResponse).where(SurveyResponse.customer_id == customer_id)
    stmt = newest_first(stmt, SurveyResponse.responded_at, SurveyResponse.id, cursor, limit)
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    page, next_cursor = page_of(rows, limit, key=time_id_key("responded_at"))
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
