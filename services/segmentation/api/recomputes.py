"""Recompute jobs: start (supervisor), list and read."""

import uuid

from fastapi import APIRouter, Request, Response

from services.common.access import StaffOrSystemSegmentsRead, Supervisor
from services.common.deps import Cursor, Limit
from services.common.errors import problem_responses
from services.segmentation.api.deps import Ctx
from services.segmentation.schemas import (
    JobPage,
    JobRead,
    RecomputeRequest,
)
from services.segmentation.service import recomputes

router = APIRouter(prefix="/v1/recomputes", tags=["recomputes"])


# --- recomputes ---------------------------------------------------------------------------------


@router.post(
    "",
    response_model=JobRead,
    status_code=202,
    summary="Start a full recompute (or get the running one)",
    responses={
        200: {"model": JobRead, "description": "a recompute is already queued or running"},
        **problem_responses(401, 403, 422),
    },
)
def start_recompute(
    request: Request, principal: Supervisor, ctx: Ctx, response: Response, body: RecomputeRequest | None = None
) -> JobRead:
    """The body is optional; without one the job is the daily kind (`windows: moved`)."""
    job, created = recomputes.start_recompute(
        ctx, actor=principal.sub, windows=body.windows if body else recomputes.WINDOWS_MOVED
    )
    if created:
        request.app.state.job_runner(job.id)
        job = recomputes.require_job(ctx.db, job_id=job.id)
    else:
        response.status_code = 200
    response.headers["Location"] = f"/v1/recomputes/{job.id}"
    return JobRead.model_validate(job)


@router.get(
    "", response_model=JobPage, summary="Recompute jobs, newest first", responses=problem_responses(401, 403, 422)
)
def list_recomputes(_p: StaffOrSystemSegmentsRead, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> JobPage:
    rows, next_cursor = recomputes.list_jobs(ctx.db, limit=limit, cursor=cursor)
    return JobPage(items=[JobRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{job_id:uuid}",
    response_model=JobRead,
    summary="A recompute's status and progress",
    responses=problem_responses(401, 403, 404, 422),
)
def read_recompute(job_id: uuid.UUID, _p: StaffOrSystemSegmentsRead, ctx: Ctx) -> JobRead:
    return JobRead.model_validate(recomputes.require_job(ctx.db, job_id=str(job_id)))
