"""Surveys: create, edit (a new draft version once published), publish, list, read."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.common.access import CustomerOrStaff, Staff
from services.common.deps import Cursor, Db, IfMatch, Limit
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.feedback.api.deps import SurveyCtx
from services.feedback.schemas.surveys import SurveyCreate, SurveyPage, SurveyRead
from services.feedback.service import surveys

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])


@router.post(
    "",
    status_code=201,
    response_model=SurveyRead,
    summary="Create a survey (version 1, draft)",
    responses=problem_responses(401, 403, 422),
)
def create_survey(body: SurveyCreate, principal: Staff, db: Db, ctx: SurveyCtx, response: Response) -> SurveyRead:
    survey = surveys.create_survey(db, survey_in=body, actor=principal, ctx=ctx)
    response.headers["ETag"] = etag_for(survey.revision)
    response.headers["Location"] = f"/v1/surveys/{survey.id}"
    return survey


@router.get(
    "",
    response_model=SurveyPage,
    summary="Surveys, latest version each (a customer: those offered to it, published and open)",
    responses=problem_responses(401, 403, 422),
)
def list_surveys(
    principal: CustomerOrStaff, db: Db, ctx: SurveyCtx, limit: Limit = 50, cursor: Cursor = None
) -> SurveyPage:
    items, next_cursor = surveys.list_surveys(db, actor=principal, limit=limit, cursor=cursor, now=ctx.clock())
    return SurveyPage(items=items, next_cursor=next_cursor)


@router.get(
    "/{survey_id:uuid}",  # a UUID only, so "/responses" is never taken for a survey id
    response_model=SurveyRead,
    summary="A survey: the latest version or `version`",
    responses=problem_responses(401, 403, 404, 422),
)
def read_survey(
    survey_id: uuid.UUID,
    principal: CustomerOrStaff,
    db: Db,
    ctx: SurveyCtx,
    response: Response,
    version: Annotated[int | None, Query(ge=1, le=100000)] = None,
) -> SurveyRead:
    survey = surveys.get_survey(db, survey_id=survey_id, actor=principal, version=version, now=ctx.clock())
    response.headers["ETag"] = etag_for(survey.revision)
    return survey


@router.put(
    "/{survey_id:uuid}",  # a UUID only, so "/responses" is never taken for a survey id
    response_model=SurveyRead,
    summary="Edit (If-Match required): a draft in place; a published survey gets a new draft version",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
def edit_survey(
    survey_id: uuid.UUID,
    body: SurveyCreate,
    principal: Staff,
    db: Db,
    ctx: SurveyCtx,
    response: Response,
    if_match: IfMatch = None,
) -> SurveyRead:
    survey = surveys.edit_survey(
        db, survey_id=survey_id, survey_in=body, actor=principal, ctx=ctx, expected_revision=expected_version(if_match)
    )
    response.headers["ETag"] = etag_for(survey.revision)
    return survey


@router.post(
    "/{survey_id}/publish",
    response_model=SurveyRead,
    summary="Publish the latest draft version (If-Match optional)",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def publish_survey(
    survey_id: uuid.UUID, _p: Staff, db: Db, ctx: SurveyCtx, response: Response, if_match: IfMatch = None
) -> SurveyRead:
    survey = surveys.publish_survey(
        db, survey_id=survey_id, ctx=ctx, expected_revision=expected_version(if_match, required=False)
    )
    response.headers["ETag"] = etag_for(survey.revision)
    return survey
