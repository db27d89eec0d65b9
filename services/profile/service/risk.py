"""Risk assessment (investor suitability): scoring answers against the customer's questionnaire, the
level from its score bands, validity for a number of months, and the rule that a Cn customer may buy
R1..Rn only while an assessment is valid. Records risk_assessment.completed."""

import calendar
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import InvalidInput, NotFound
from services.common.idempotency import IdempotencyRequest, StoredResponse
from services.common.pagination import newest_first, page_of, time_id_key
from services.profile.models import RiskAssessment
from services.profile.schemas.risk import QuestionnaireRead, RiskAssessmentCreate, RiskAssessmentRead, Suitability
from services.profile.service.events import record_events
from services.profile.service.guards import require_active_customer, require_customer_row
from services.profile.service.idempotent import remember, stored_answer
from services.profile.service.questionnaires import level_for, questionnaire_for


def add_months(t: datetime, months: int) -> datetime:
    """The same day `months` later, or the month's last day when it has no such day (29 Feb)."""
    month0 = t.month - 1 + months
    year, month = t.year + month0 // 12, month0 % 12 + 1
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


def read_questionnaire(db: Database, *, customer_id: uuid.UUID, valid_months: int) -> QuestionnaireRead:
    with db.read() as s:
        row = require_customer_row(s, customer_id)
    return QuestionnaireRead(**questionnaire_for(row.type), valid_months=valid_months)


def score_answers(questionnaire: dict[str, Any], assessment_in: RiskAssessmentCreate) -> int:
    """The total score; 422 naming each unanswered, unknown or wrongly answered question."""
    q_id, q_version = questionnaire["id"], questionnaire["version"]
    if assessment_in.questionnaire_id != q_id:
        msg = f"this customer answers questionnaire '{q_id}'"
        raise InvalidInput([{"loc": ["body", "questionnaire_id"], "msg": msg, "type": "questionnaire_mismatch"}])
    if assessment_in.questionnaire_version != q_version:
        msg = f"the current version is {q_version}"
        raise InvalidInput([{"loc": ["body", "questionnaire_version"], "msg": msg, "type": "questionnaire_outdated"}])
    answers = assessment_in.answers
    questions = {q["id"]: q for q in questionnaire["questions"]}
    errors, score = [], 0
    for qid in answers.keys() - questions.keys():
        errors.append({"loc": ["body", "answers", qid], "msg": "no such question", "type": "unknown_question"})
    for qid, q in questions.items():
        if qid not in answers:
            errors.append({"loc": ["body", "answers", qid], "msg": "not answered", "type": "missing"})
            continue
        option = next((o for o in q["options"] if o["id"] == answers[qid]), None)
        if option is None:
            errors.append({"loc": ["body", "answers", qid], "msg": "no such option", "type": "unknown_option"})
        else:
            score += option["score"]
    if errors:
        raise InvalidInput(errors)
    return score


def assess_risk(
    db: Database,
    *,
    customer_id: uuid.UUID,
    assessment_in: RiskAssessmentCreate,
    actor: Principal,
    valid_months: int,
    now: datetime,
    idem: IdempotencyRequest | None = None,
) -> RiskAssessmentRead | StoredResponse:
    """The new assessment becomes current; records risk_assessment.completed."""
    with db.write() as s:
        if stored := stored_answer(s, idem):
            return stored
        row = require_active_customer(s, customer_id)
        questionnaire = questionnaire_for(row.type)
        score = score_answers(questionnaire, assessment_in)
        a = RiskAssessment(
            customer_id=customer_id,
            questionnaire_id=questionnaire["id"],
            questionnaire_version=questionnaire["version"],
            answers=dict(assessment_in.answers),
            score=score,
            level=level_for(questionnaire, score),
            assessed_at=now,
            expires_at=add_months(now, valid_months),
            actor_sub=actor.sub,
        )
        s.add(a)
        s.flush()
        data = {
            "assessment_id": str(a.id),
            "level": a.level,
            "score": a.score,
            "questionnaire": {"id": a.questionnaire_id, "version": a.questionnaire_version},
            "assessed_at": a.assessed_at.isoformat().replace("+00:00", "Z"),
            "expires_at": a.expires_at.isoformat().replace("+00:00", "Z"),
        }
        view = remember(s, idem, 201, present_assessment(a, "current"))
        record_events(s, [("risk_assessment.completed", str(customer_id), data)], now)
        s.commit()
        return view


def present_assessment(a: RiskAssessment, status: str) -> RiskAssessmentRead:
    return RiskAssessmentRead(
        id=a.id,
        customer_id=a.customer_id,
        questionnaire_id=a.questionnaire_id,
        questionnaire_version=a.questionnaire_version,
        answers=a.answers,
        score=a.score,
        level=a.level,
        assessed_at=a.assessed_at,
        expires_at=a.expires_at,
        status=status,
    )


def _newest(s, customer_id: uuid.UUID) -> RiskAssessment | None:
    stmt = select(RiskAssessment).where(RiskAssessment.customer_id == customer_id)
    stmt = stmt.order_by(col(RiskAssessment.assessed_at).desc(), col(RiskAssessment.id).desc()).limit(1)
    return s.execute(stmt).scalar()


def _current(s, customer_id: uuid.UUID, now: datetime) -> RiskAssessment | None:
    """Only the newest assessment can be current, and only until it expires: an older one that has
    not yet expired was replaced, not revived."""
    newest = _newest(s, customer_id)
    return newest if newest is not None and newest.expires_at > now else None


def current_assessment(db: Database, *, customer_id: uuid.UUID, now: datetime) -> RiskAssessmentRead:
    """404 risk_assessment_not_found when there is none or the newest has expired."""
    with db.read() as s:
        require_customer_row(s, customer_id)
        a = _current(s, customer_id, now)
    if a is None:
        raise NotFound("The customer has no valid risk assessment", code="risk_assessment_not_found")
    return present_assessment(a, "current")


def list_assessments(
    db: Database, *, customer_id: uuid.UUID, now: datetime, limit: int, cursor: str | None
) -> tuple[list[RiskAssessmentRead], str | None]:
    """Newest first, each with its status as of now."""
    stmt = select(RiskAssessment).where(RiskAssessment.customer_id == customer_id)
    stmt = newest_first(stmt, RiskAssessment.assessed_at, RiskAssessment.id, cursor, limit)
    with db.read() as s:
        require_customer_row(s, customer_id)
        newest = _newest(s, customer_id)
        rows = list(s.execute(stmt).scalars())
    out = []
    for a in rows:
        status = "expired" if a.expires_at <= now else "current" if newest and a.id == newest.id else "superseded"
        out.append(present_assessment(a, status))
    return page_of(out, limit, key=time_id_key("assessed_at"))


def is_suitable(level: str, product_risk: str) -> bool:
    """Cn may buy R1..Rn."""
    return int(product_risk[1]) <= int(level[1])


def check_suitability(db: Database, *, customer_id: uuid.UUID, product_risk: str, now: datetime) -> Suitability:
    """A Cn customer may buy R1..Rn, and only while the assessment is valid."""
    with db.read() as s:
        require_customer_row(s, customer_id)
        a = _current(s, customer_id, now)
    if a is None:
        return Suitability(
            customer_id=customer_id,
            product_risk=product_risk,
            suitable=False,
            reason="no_valid_assessment",
            detail="No valid risk assessment: the customer must be assessed first",
            customer_level=None,
            assessment_id=None,
            assessment_expires_at=None,
        )
    suitable = is_suitable(a.level, product_risk)
    detail = (
        f"{product_risk} is within the customer's level {a.level}"
        if suitable
        else f"{product_risk} is above the customer's level {a.level}"
    )
    return Suitability(
        customer_id=customer_id,
        product_risk=product_risk,
        suitable=suitable,
        reason="level_sufficient" if suitable else "level_too_low",
        detail=detail,
        customer_level=a.level,
        assessment_id=a.id,
        assessment_expires_at=a.expires_at,
    )
