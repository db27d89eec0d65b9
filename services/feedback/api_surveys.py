"""Feedback routes for surveys, responses, analysis and follow-up tasks (thin handlers)."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from services.common.auth import Principal, ensure_own_customer, require_role
from services.common.db import Database
from services.common.errors import InvalidInput, NotFound, problem_responses
from services.common.etag import etag_for, expected_version
from services.feedback.schemas import (
    Breakdown,
    Drivers,
    FollowUpOutcome,
    FollowUpPage,
    FollowUpRead,
    Instant,
    ResponseCreate,
    ResponseRead,
    ResponseScoresPage,
    SurveyAnalysis,
    SurveyCreate,
    SurveyPage,
    SurveyRead,
    Terms,
)
from services.feedback.service import analysis, surveys
from services.feedback.service.surveys import SurveyContext

surveys_router = APIRouter(prefix="/v1/surveys", tags=["surveys"])
follow_ups_router = APIRouter(prefix="/v1/follow-ups", tags=["follow-ups"])


async def _db(request: Request) -> Database:
    return request.app.state.db


async def _ctx(request: Request) -> SurveyContext:
    return request.app.state.surveys


Db = Annotated[Database, Depends(_db)]
Ctx = Annotated[SurveyContext, Depends(_ctx)]
Anyone = Annotated[Principal, Depends(require_role("customer", "staff", "supervisor", "admin"))]
Staff = Annotated[Principal, Depends(require_role("staff", "supervisor", "admin"))]
Limit = Annotated[int, Query(ge=1, le=200, description="page size, at most 200")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor from the previous page")]
From = Annotated[Instant | None, Query(alias="from", description="responses at or after (RFC 3339)")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the ETag from your last read")]
To = Annotated[Instant | None, Query(alias="to", description="responses before (RFC 3339)")]


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput([{"loc": ["query", name], "msg": "a time zone is required", "type": "timezone"}])
    if start is not None and end is not None and end <= start:
        raise InvalidInput([{"loc": ["query", "to"], "msg": "must be after from", "type": "period"}])
    return start, end


# "/{survey_id:uuid}" below takes only UUIDs, so "responses" is never read as a survey id.
@surveys_router.get(
    "/responses",
    response_model=ResponseScoresPage,
    summary="A customer's survey responses, newest first, scores only (a customer: its own)",
    responses=problem_responses(401, 403, 404, 422),
)
def list_customer_responses(
    principal: Anyone, db: Db, customer_id: uuid.UUID, limit: Limit = 50, cursor: Cursor = None
) -> ResponseScoresPage:
    ensure_own_customer(principal, str(customer_id), NotFound(f"No customer {customer_id}", code="customer_not_found"))
    items, next_cursor = surveys.list_customer_responses(db, customer_id=str(customer_id), limit=limit, cursor=cursor)
    return ResponseScoresPage(items=items, next_cursor=next_cursor)


@surveys_router.post(
    "",
    status_code=201,
    response_model=SurveyRead,
    summary="Create a survey (version 1, draft)",
    responses=problem_responses(401, 403, 422),
)
def create_survey(body: SurveyCreate, principal: Staff, db: Db, ctx: Ctx, response: Response) -> SurveyRead:
    survey = surveys.create_survey(db, survey_in=body, actor=principal, ctx=ctx)
    response.headers["ETag"] = etag_for(survey.revision)
    response.headers["Location"] = f"/v1/surveys/{survey.id}"
    return survey


@surveys_router.get(
    "",
    response_model=SurveyPage,
    summary="Surveys, latest version each (customers: published)",
    responses=problem_responses(401, 403, 422),
)
def list_surveys(principal: Anyone, db: Db, limit: Limit = 50, cursor: Cursor = None) -> SurveyPage:
    items, next_cursor = surveys.list_surveys(db, actor=principal, limit=limit, cursor=cursor)
    return SurveyPage(items=items, next_cursor=next_cursor)


@surveys_router.get(
    "/{survey_id:uuid}",  # a UUID only, so "/responses" is never taken for a survey id
    response_model=SurveyRead,
    summary="A survey: the latest version or `version`",
    responses=problem_responses(401, 403, 404, 422),
)
def read_survey(
    survey_id: uuid.UUID,
    principal: Anyone,
    db: Db,
    response: Response,
    version: Annotated[int | None, Query(ge=1, le=100000)] = None,
) -> SurveyRead:
    survey = surveys.get_survey(db, survey_id=survey_id, actor=principal, version=version)
    response.headers["ETag"] = etag_for(survey.revision)
    return survey


@surveys_router.put(
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
    ctx: Ctx,
    response: Response,
    if_match: IfMatch = None,
) -> SurveyRead:
    survey = surveys.edit_survey(
        db, survey_id=survey_id, survey_in=body, actor=principal, ctx=ctx, expected_revision=expected_version(if_match)
    )
    response.headers["ETag"] = etag_for(survey.revision)
    return survey


@surveys_router.post(
    "/{survey_id}/publish",
    response_model=SurveyRead,
    summary="Publish the latest draft version (If-Match optional)",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def publish_survey(
    survey_id: uuid.UUID, _p: Staff, db: Db, ctx: Ctx, response: Response, if_match: IfMatch = None
) -> SurveyRead:
    survey = surveys.publish_survey(
        db, survey_id=survey_id, ctx=ctx, expected_revision=expected_version(if_match, required=False)
    )
    response.headers["ETag"] = etag_for(survey.revision)
    return survey


@surveys_router.post(
    "/{survey_id}/responses",
    status_code=201,
    response_model=ResponseRead,
    summary="Answer a survey (a customer for itself, staff for a customer); 200 when replacing",
    responses={**problem_responses(401, 403, 404, 409, 422), 200: {"model": ResponseRead}},
)
def respond(survey_id: uuid.UUID, body: ResponseCreate, principal: Anyone, db: Db, ctx: Ctx):
    result, created = surveys.respond(db, survey_id=survey_id, response_in=body, actor=principal, ctx=ctx)
    return JSONResponse(result.model_dump(mode="json"), status_code=201 if created else 200)


@surveys_router.get(
    "/{survey_id}/analysis",
    response_model=SurveyAnalysis,
    summary="Responses, response rate, NPS, CSAT, CES (each with n), distributions",
    responses=problem_responses(401, 403, 404, 422),
)
def analyse(survey_id: uuid.UUID, _p: Staff, db: Db, ctx: Ctx, start: From = None, end: To = None) -> SurveyAnalysis:
    start, end = _period(start, end)
    return analysis.analyse_survey(db, survey_id=survey_id, start=start, end=end, small_sample=ctx.small_sample)


@surveys_router.get(
    "/{survey_id}/analysis/breakdown",
    response_model=Breakdown,
    summary="Scores by branch, region type, customer type, segment class, channel, month, or all of them",
    responses=problem_responses(401, 403, 404, 422),
)
def breakdown(
    survey_id: uuid.UUID,
    _p: Staff,
    db: Db,
    ctx: Ctx,
    by: Literal["branch", "region_type", "customer_type", "segment_class", "channel", "month", "all"],
    scheme: Annotated[
        str | None,
        Query(min_length=1, max_length=80, description="the segmentation scheme, for by=segment_class (and all)"),
    ] = None,
    start: From = None,
    end: To = None,
) -> Breakdown:
    start, end = _period(start, end)
    return analysis.breakdown(
        db, survey_id=survey_id, by=by, scheme=scheme, start=start, end=end, small_sample=ctx.small_sample
    )


@surveys_router.get(
    "/{survey_id}/analysis/drivers",
    response_model=Drivers,
    summary="Mean NPS and detractor share per answer of each closed question",
    responses=problem_responses(401, 403, 404, 422),
)
def read_drivers(survey_id: uuid.UUID, _p: Staff, db: Db, start: From = None, end: To = None) -> Drivers:
    start, end = _period(start, end)
    return analysis.drivers(db, survey_id=survey_id, start=start, end=end)


@surveys_router.get(
    "/{survey_id}/analysis/terms",
    response_model=Terms,
    summary="Most frequent terms in free-text answers (Chinese segmented with jieba)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_terms(
    survey_id: uuid.UUID,
    _p: Staff,
    db: Db,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Terms:
    start, end = _period(start, end)
    return analysis.top_terms(db, survey_id=survey_id, start=start, end=end, limit=limit)


@follow_ups_router.get(
    "",
    response_model=FollowUpPage,
    summary="Follow-up tasks, soonest due first",
    responses=problem_responses(401, 403, 422),
)
def list_follow_ups(
    _p: Staff,
    db: Db,
    branch_code: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{4,16}$")] = None,
    status: Literal["open", "done"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> FollowUpPage:
    rows, next_cursor = surveys.list_follow_ups(db, branch_code=branch_code, status=status, limit=limit, cursor=cursor)
    return FollowUpPage(items=[FollowUpRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@follow_ups_router.post(
    "/{follow_up_id}/outcome",
    response_model=FollowUpRead,
    summary="Record the call-back's outcome (closes the task)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def record_outcome(follow_up_id: uuid.UUID, body: FollowUpOutcome, principal: Staff, db: Db, ctx: Ctx) -> FollowUpRead:
    return FollowUpRead.model_validate(
        surveys.record_follow_up(db, follow_up_id=follow_up_id, outcome_in=body, actor=principal, ctx=ctx)
    )
