"""Surveys: versions (a published version is never changed; edits make a new draft), create, edit,
publish, read and list for staff and for customers in the audience."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database, utcnow
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.etag import check_version
from services.common.pagination import decode_cursor, page_of
from services.common.pii import PersonalDataVault
from services.feedback.models import (
    Survey,
)
from services.feedback.schemas.surveys import (
    SurveyCreate,
    SurveyRead,
)
from services.feedback.service.offered import offered_to


@dataclass(frozen=True)
class SurveyContext:
    clock: Callable[[], datetime]
    vault: PersonalDataVault  # free-text answers and follow-up notes are encrypted at rest
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


def latest_version(
    s: Session, survey_id: uuid.UUID, *, published_only: bool = False, lock: bool = False
) -> Survey | None:
    stmt = select(Survey).where(Survey.id == survey_id).order_by(col(Survey.version).desc()).limit(1)
    if published_only:
        stmt = stmt.where(Survey.state == "published")
    if lock and s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return s.execute(stmt).scalar()


def get_survey(
    db: Database, *, survey_id: uuid.UUID, actor: Principal, version: int | None = None, now: datetime | None = None
) -> SurveyRead:
    """The latest version, or the one asked for; a customer reads only a survey offered to it
    (services.feedback.service.offered), in its latest published version."""
    with db.read() as s:
        if actor.is_customer:
            stmt = select(Survey).where(Survey.id == survey_id, offered_to(s, actor.sub, now or utcnow()))
            sv = s.execute(stmt.order_by(col(Survey.version).desc()).limit(1)).scalar()
            if sv is not None and version is not None and sv.version != version:
                sv = None
        elif version is not None:
            sv = s.get(Survey, (survey_id, version))
        else:
            sv = latest_version(s, survey_id)
    if sv is None:
        raise survey_not_found(survey_id)
    return present_survey(sv)


def list_surveys(
    db: Database, *, actor: Principal, limit: int, cursor: str | None, now: datetime | None = None
) -> tuple[list[SurveyRead], str | None]:
    """The latest version of each survey, by id; for a customer, the latest published version of each
    survey offered to it (services.feedback.service.offered)."""
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
        if actor.is_customer:
            stmt = stmt.where(offered_to(s, actor.sub, now or utcnow()))
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
        latest = latest_version(s, survey_id, lock=True)
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
        sv = latest_version(s, survey_id, lock=True)
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
