"""Complaints: file, list, read, every handling step, escalations, the overdue sweep, reports, code lists."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from services.common.access import CustomerOrStaff, Staff, Supervisor, SupervisorOrSystemJobsRun
from services.common.approvals_api import approvals_router, present
from services.common.branch_scope import Reach
from services.common.deps import Cursor, Db, IdemKey, Limit, replay
from services.common.errors import InvalidInput, problem_responses
from services.common.idempotency import StoredResponse, idempotency_request
from services.common.personal_data import Purpose
from services.feedback.api.deps import ComplaintCtx, SurveyCtx, zoned
from services.feedback.schemas.approvals import ApprovalPage, ApprovalRead
from services.feedback.schemas.complaints import (
    CodeLists,
    ComplaintCreate,
    ComplaintPage,
    ComplaintRead,
    Escalations,
    StepCreate,
    SweepResult,
)
from services.feedback.schemas.fields import ComplaintState, Instant
from services.feedback.schemas.reports import ComplaintReport
from services.feedback.service import complaint_steps, complaints, escalations, reports

router = APIRouter(prefix="/v1/complaints", tags=["complaints"])
# Dual control of the second extension: the checkers' queue and decisions.
approvals = approvals_router(
    "/v1/complaints/approvals",
    ApprovalRead,
    ApprovalPage,
    noun="complaint",
    approve_says="The extension is appended in the maker's name with the checker as `approved_by`; 409 "
    "`complaint_overdue`, `complaint_transition_illegal` or `complaint_extension_exhausted` when the complaint no "
    "longer allows it (the request stays pending).",
)


@router.get(
    "/codes", response_model=CodeLists, summary="JR/T 0169-2018 code lists", responses=problem_responses(401, 403)
)
def read_codes(_p: CustomerOrStaff, db: Db) -> CodeLists:
    return complaints.code_lists(db)


@router.post(
    "",
    status_code=201,
    response_model=ComplaintRead,
    summary="File a complaint (any channel)",
    responses=problem_responses(401, 403, 409, 422),
)
def file_complaint(
    body: ComplaintCreate,
    principal: CustomerOrStaff,
    db: Db,
    ctx: ComplaintCtx,
    reach: Reach,
    idempotency_key: IdemKey = None,
):
    idem = idempotency_request(
        idempotency_key, caller=principal.sub, operation="file_complaint", body=body.model_dump(mode="json")
    )
    result = complaints.file_complaint(db, complaint_in=body, actor=principal, ctx=ctx, idem=idem, reach=reach)
    if isinstance(result, StoredResponse):
        return replay(result)
    return JSONResponse(
        result.model_dump(mode="json"), status_code=201, headers={"Location": f"/v1/complaints/{result.id}"}
    )


@router.get(
    "",
    response_model=ComplaintPage,
    summary="List complaints, newest first (a customer: its own)",
    responses=problem_responses(401, 403, 422),
)
def list_complaints(
    principal: CustomerOrStaff,
    db: Db,
    ctx: ComplaintCtx,
    reach: Reach,
    state: ComplaintState | None = None,
    branch_code: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{4,16}$")] = None,
    customer_id: uuid.UUID | None = None,
    channel: Annotated[str | None, Query(max_length=40, description="a channel code")] = None,
    business_type: Annotated[str | None, Query(max_length=40, description="a business type code")] = None,
    cause: Annotated[str | None, Query(max_length=40, description="a cause code")] = None,
    start: Annotated[Instant | None, Query(alias="from", description="received at or after (RFC 3339)")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="received before (RFC 3339)")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ComplaintPage:
    start, end = zoned(start, end)
    items, next_cursor = complaints.list_complaints(
        db,
        actor=principal,
        ctx=ctx,
        state=state,
        branch_code=branch_code,
        customer_id=str(customer_id) if customer_id else None,
        limit=limit,
        cursor=cursor,
        codes={"channel": channel, "business_type": business_type, "cause": cause},
        received_from=start,
        received_to=end,
        reach=reach,
    )
    return ComplaintPage(items=items, next_cursor=next_cursor)


@router.get(
    "/escalations",
    response_model=Escalations,
    summary="Open complaints at 80% of their time without a decision, and overdue ones",
    responses=problem_responses(401, 403, 422),
)
def read_escalations(
    principal: Staff,
    db: Db,
    ctx: ComplaintCtx,
    reach: Reach,
    handler: Annotated[
        Literal["me"] | None, Query(description="me: only the complaints assigned to the caller (its work queue)")
    ] = None,
) -> Escalations:
    return escalations.escalations(db, ctx=ctx, reach=reach, handler_sub=principal.sub if handler == "me" else None)


@router.post(
    "/escalations/sweep",
    response_model=SweepResult,
    summary="Flag newly overdue complaints and emit complaint.overdue (idempotent)",
    responses=problem_responses(401, 403),
)
def sweep_overdue(principal: SupervisorOrSystemJobsRun, db: Db, ctx: ComplaintCtx) -> SweepResult:
    return escalations.sweep_overdue(db, actor=principal, ctx=ctx)


@router.get(
    "/reports",
    response_model=ComplaintReport,
    summary="Age bands, at-risk and overdue counts, monthly counts by code, time to decision, satisfaction",
    responses=problem_responses(401, 403, 422),
)
def read_report(
    _p: Supervisor,
    db: Db,
    ctx: ComplaintCtx,
    surveys: SurveyCtx,
    reach: Reach,
    start: Annotated[Instant | None, Query(alias="from", description="received at or after (RFC 3339)")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="received before (RFC 3339)")] = None,
) -> ComplaintReport:
    start, end = zoned(start, end)
    return reports.complaint_report(db, ctx=ctx, start=start, end=end, small_sample=surveys.small_sample, reach=reach)


@router.get(
    "/{complaint_id}",
    response_model=ComplaintRead,
    summary="A complaint with its deadline, decision and every step (free text masked; ?reveal=true in full)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_complaint(
    complaint_id: uuid.UUID,
    principal: CustomerOrStaff,
    db: Db,
    ctx: ComplaintCtx,
    reach: Reach,
    reveal: Annotated[
        bool, Query(description="the free text in full (reveal roles; written to the access log)")
    ] = False,
    purpose: Annotated[Purpose | None, Query(description="why the full text is read; required with reveal")] = None,
) -> ComplaintRead:
    if reveal and purpose is None:
        raise InvalidInput([{"loc": ["query", "purpose"], "msg": "required with reveal=true", "type": "missing"}])
    return complaints.get_complaint(
        db,
        complaint_id=complaint_id,
        actor=principal,
        ctx=ctx,
        reveal_purpose=purpose if reveal else None,
        reach=reach,
    )


@router.post(
    "/{complaint_id}/steps",
    response_model=ComplaintRead,
    summary="Take one step: acknowledge, assign, investigate, extend, pause, resume, add_facts, decide, "
    "close, withdraw, request_review, decide_review, note",
    description="A second extension (to the maximum) is, under dual control (`FEEDBACK_DUAL_CONTROL_SECOND_EXTENSION`, "
    "on by default), not applied: the answer is 202 with the pending approval request, applied when a supervisor or "
    "admin other than the maker approves it (`POST /v1/complaints/approvals/{id}/approve`); 409 `approval_pending` "
    "while one waits for the complaint.",
    responses={**problem_responses(401, 403, 404, 409, 422), 202: {"model": ApprovalRead, "description": "pending"}},
)
def add_step(
    complaint_id: uuid.UUID,
    body: Annotated[StepCreate, Body()],
    principal: CustomerOrStaff,
    db: Db,
    ctx: ComplaintCtx,
    reach: Reach,
):
    result = complaint_steps.add_step(
        db, complaint_id=complaint_id, step_in=body, actor=principal, ctx=ctx, reach=reach
    )
    if isinstance(result, ComplaintRead):
        return result
    return JSONResponse(present(ApprovalRead, result, ctx.clock()).model_dump(mode="json"), status_code=202)
