"""Surveys: create, edit, publish, list, read; responses, and a customer's response scores."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from services.common.access import CustomerOrStaff, Staff
from services.common.auth import ensure_own_customer
from services.common.deps import Cursor, Db, IfMatch, Limit
from services.common.errors import NotFound, problem_responses
from services.common.etag import etag_for, expected_version
from services.feedback.api.deps import SurveyCtx
from services.feedback.schemas.surveys import (
    ResponseCreate,
    ResponseRead,
    ResponseScoresPage,
    SurveyCreate,
    SurveyPage,
    SurveyRead,
)
from services.feedback.service import responses, surveys

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])


# "/{survey_id:uuid}" below takes only UUIDs, so "responses" is never read as a survey id.
@router.get(
    "/responses",
    response_model=ResponseScoresPage,
    summary="A customer's survey responses, newest first, scores only (a customer: its own)",
    responses=problem_responses(401, 403, 404, 422),
)
def list_customer_responses(
    principal: CustomerOrStaff, db: Db, customer_id: uuid.UUID, limit: Limit = 50, cursor: Cursor = None
) -> ResponseScoresPage:
    ensure_own_customer(principal, str(customer_id), NotFound(f"No customer {customer_id}", code="customer_not_found"))
    items, next_cursor = responses.list_customer_responses(db, customer_id=str(customer_id), limit=limit, cursor=cursor)
    return ResponseScoresPage(items=items, next_cursor=next_cursor)


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
    summary="Surveys, latest version each (customers: published)",
    responses=problem_responses(401, 403, 422),
)
def list_surveys(principal: CustomerOrStaff, db: Db, limit: Limit = 50, cursor: Cursor = None) -> SurveyPage:
    items, next_cursor = surveys.list_surveys(db, actor=principal, limit=limit, cursor=cursor)
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
    response: Response,
    version: Annotated[int | None, Query(ge=1, le=100000)] = None,
) -> SurveyRead:
    survey = surveys.get_survey(db, survey_id=survey_id, actor=principal, version=version)
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


@router.post(
    "/{survey_id}/responses",
    status_code=201,
    response_model=ResponseRead,
    summary="Answer a survey (a customer for itself, staff for a customer); 200 when replacing",
    responses={**problem_responses(401, 403, 404, 409, 422), 200: {"model": ResponseRead}},
)
def respond(survey_id: uuid.UUID, body: ResponseCreate, principal: CustomerOrStaff, db: Db, ctx: SurveyCtx):
    result, created = responses.respond(db, survey_id=survey_id, response_in=body, actor=principal, ctx=ctx)
    return JSONResponse(result.model_dump(mode="json"), status_code=201 if created else 200)
