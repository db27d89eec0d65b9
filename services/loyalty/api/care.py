"""Care tasks: the reminders for relationship managers. Staff see and close the tasks of their branch's
subtree (`mine`: only those of the customers they manage); the gateway's work queue lists the caller's."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.common.access import Staff
from services.common.branch_scope import Reach
from services.common.deps import Cursor, Db, Limit, Now
from services.common.errors import problem_responses
from services.loyalty.models import CareTask
from services.loyalty.schemas.care import CareTaskClose, CareTaskPage, CareTaskRead, TaskStatus
from services.loyalty.service import care

router = APIRouter(prefix="/v1/loyalty/care-tasks", tags=["care"])


def present_task(t: CareTask) -> CareTaskRead:
    return CareTaskRead.model_validate(t, from_attributes=True)


@router.get(
    "",
    response_model=CareTaskPage,
    summary="Care tasks in the caller's branch subtree, soonest due first",
    responses=problem_responses(401, 403, 422),
)
def list_tasks(
    principal: Staff,
    reach: Reach,
    db: Db,
    mine: Annotated[bool, Query(description="only the tasks of the customers the caller manages")] = False,
    status: TaskStatus | None = "open",
    customer_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CareTaskPage:
    items, next_cursor = care.list_tasks(
        db,
        reach=reach,
        manager_id=principal.sub if mine else None,
        customer_id=customer_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return CareTaskPage(items=[present_task(t) for t in items], next_cursor=next_cursor)


@router.post(
    "/{task_id}/close",
    response_model=CareTaskRead,
    summary="Complete or dismiss an open care task",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def close_task(
    task_id: Annotated[uuid.UUID, Path()], body: CareTaskClose, principal: Staff, reach: Reach, db: Db, now: Now
) -> CareTaskRead:
    task = care.close_task(
        db, task_id=task_id, outcome=body.outcome, note=body.note, actor=principal, reach=reach, now=now
    )
    return present_task(task)
