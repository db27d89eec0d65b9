"""Follow-up tasks for detractors: list and record the outcome."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.common.access import Staff
from services.common.branch_scope import Reach
from services.common.deps import Cursor, Db, Limit
from services.common.errors import problem_responses
from services.feedback.api.deps import SurveyCtx
from services.feedback.schemas.follow_ups import FollowUpOutcome, FollowUpPage, FollowUpRead
from services.feedback.service import follow_ups

router = APIRouter(prefix="/v1/follow-ups", tags=["follow-ups"])


@router.get(
    "",
    response_model=FollowUpPage,
    summary="Follow-up tasks, soonest due first",
    responses=problem_responses(401, 403, 422),
)
def list_follow_ups(
    _p: Staff,
    db: Db,
    ctx: SurveyCtx,
    reach: Reach,
    branch_code: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{4,16}$")] = None,
    status: Literal["open", "done"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> FollowUpPage:
    items, next_cursor = follow_ups.list_follow_ups(
        db, branch_code=branch_code, status=status, limit=limit, cursor=cursor, vault=ctx.vault, reach=reach
    )
    return FollowUpPage(items=items, next_cursor=next_cursor)


@router.post(
    "/{follow_up_id}/outcome",
    response_model=FollowUpRead,
    summary="Record the call-back's outcome (closes the task)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def record_outcome(
    follow_up_id: uuid.UUID, body: FollowUpOutcome, principal: Staff, db: Db, ctx: SurveyCtx, reach: Reach
) -> FollowUpRead:
    return follow_ups.record_follow_up(
        db, follow_up_id=follow_up_id, outcome_in=body, actor=principal, ctx=ctx, reach=reach
    )
