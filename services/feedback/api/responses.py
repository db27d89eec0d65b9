"""Survey responses: answer a survey (or replace an answer), and a customer's response scores."""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.common.access import CustomerOrStaff
from services.common.auth import ensure_own_customer
from services.common.branch_scope import ensure_customer_in_reach
from services.common.deps import Cursor, Db, Limit
from services.common.errors import NotFound, problem_responses
from services.feedback.api.deps import SurveyCtx
from services.feedback.schemas.responses import ResponseCreate, ResponseRead, ResponseScoresPage
from services.feedback.service import responses

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])


# api/surveys.py takes only UUIDs at "/{survey_id:uuid}", so "responses" is never read as a survey id.
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
    "/{survey_id}/responses",
    status_code=201,
    response_model=ResponseRead,
    summary="Answer a survey (a customer for itself, staff for a customer); 200 when replacing",
    description="Staff and supervisors record responses only for customers of their branch's subtree "
    "(another is 404 `customer_not_found`).",
    responses={**problem_responses(401, 403, 404, 409, 422), 200: {"model": ResponseRead}},
)
def respond(
    survey_id: uuid.UUID, body: ResponseCreate, principal: CustomerOrStaff, db: Db, ctx: SurveyCtx, request: Request
):
    if body.customer_id is not None:
        ensure_customer_in_reach(request, principal, body.customer_id)
    result, created = responses.respond(db, survey_id=survey_id, response_in=body, actor=principal, ctx=ctx)
    return JSONResponse(result.model_dump(mode="json"), status_code=201 if created else 200)
