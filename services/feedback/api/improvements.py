"""Improvement actions: open one from a complaint cause, a survey driver or a frequent term; list, read and
change it; measure its effect; report open and overdue actions."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.common.access import Staff
from services.common.branch_scope import Reach
from services.common.deps import Cursor, Db, IfMatch, Limit, Now
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.feedback.api.deps import SurveyCtx
from services.feedback.schemas.fields import BranchCode, Sub
from services.feedback.schemas.improvements import (
    ImprovementChange,
    ImprovementCreate,
    ImprovementEffect,
    ImprovementPage,
    ImprovementRead,
    ImprovementReport,
    ImprovementStatus,
)
from services.feedback.service import improvement_effect, improvements

router = APIRouter(prefix="/v1/improvement-actions", tags=["improvement actions"])


@router.post(
    "",
    status_code=201,
    response_model=ImprovementRead,
    summary="Open an improvement action answering complaint causes, survey drivers or frequent terms",
    responses=problem_responses(401, 403, 422),
)
def open_improvement_action(
    body: ImprovementCreate, principal: Staff, db: Db, now: Now, response: Response, reach: Reach
) -> ImprovementRead:
    action = improvements.open_action(db, body=body, actor=principal, now=now, reach=reach)
    response.headers["ETag"] = etag_for(1)
    response.headers["Location"] = f"/v1/improvement-actions/{action.id}"
    return action


@router.get(
    "",
    response_model=ImprovementPage,
    summary="Improvement actions, newest first",
    responses=problem_responses(401, 403, 422),
)
def list_improvement_actions(
    _p: Staff,
    db: Db,
    now: Now,
    reach: Reach,
    status: ImprovementStatus | None = None,
    branch_code: Annotated[BranchCode | None, Query()] = None,
    owner: Annotated[Sub | None, Query()] = None,
    overdue: Annotated[bool | None, Query(description="true: open or in progress past the due date")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ImprovementPage:
    items, next_cursor = improvements.list_actions(
        db,
        status=status,
        branch_code=branch_code,
        owner=owner,
        overdue=overdue,
        today=now.date(),
        limit=limit,
        cursor=cursor,
        reach=reach,
    )
    return ImprovementPage(items=items, next_cursor=next_cursor)


@router.get(
    "/report",
    response_model=ImprovementReport,
    summary="Actions by status, open and overdue by branch, the longest overdue",
    responses=problem_responses(401, 403),
)
def read_improvement_report(_p: Staff, db: Db, now: Now, reach: Reach) -> ImprovementReport:
    return improvement_effect.report(db, now=now, reach=reach)


@router.get(
    "/{action_id:uuid}",
    response_model=ImprovementRead,
    summary="One improvement action",
    responses=problem_responses(401, 403, 404, 422),
)
def read_improvement_action(
    action_id: uuid.UUID, _p: Staff, db: Db, now: Now, response: Response, reach: Reach
) -> ImprovementRead:
    action, revision = improvements.get_action(db, action_id=action_id, today=now.date(), reach=reach)
    response.headers["ETag"] = etag_for(revision)
    return action


@router.patch(
    "/{action_id:uuid}",
    response_model=ImprovementRead,
    summary="Change an action (If-Match required): owner, due date, plan, status and outcome",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def change_improvement_action(
    action_id: uuid.UUID,
    body: ImprovementChange,
    _p: Staff,
    db: Db,
    now: Now,
    response: Response,
    reach: Reach,
    if_match: IfMatch = None,
) -> ImprovementRead:
    action, revision = improvements.change_action(
        db, action_id=action_id, body=body, expected_revision=expected_version(if_match), now=now, reach=reach
    )
    response.headers["ETag"] = etag_for(revision)
    return action


@router.get(
    "/{action_id:uuid}/effect",
    response_model=ImprovementEffect,
    summary="Complaint counts and NPS for the linked causes and surveys, before and after",
    responses=problem_responses(401, 403, 404, 422),
)
def read_improvement_effect(
    action_id: uuid.UUID,
    _p: Staff,
    db: Db,
    now: Now,
    ctx: SurveyCtx,
    reach: Reach,
    window_days: Annotated[int, Query(ge=7, le=366, description="the length of each window")] = 90,
) -> ImprovementEffect:
    return improvement_effect.effect(
        db, action_id=action_id, window_days=window_days, now=now, small_sample=ctx.small_sample, reach=reach
    )
