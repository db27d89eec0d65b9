"""Dual control of points adjustments: the queue of requests, and their approval or rejection by a
supervisor or admin other than the maker (services.loyalty.service.adjustments)."""

import uuid
from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy import RowMapping

from services.common.access import Staff, Supervisor
from services.common.approvals import approval_not_found, effective_status
from services.common.deps import Cursor, Db, Limit
from services.common.errors import problem_responses
from services.loyalty.api.deps import Pol
from services.loyalty.schemas.approvals import ApprovalPage, ApprovalRead, Rejection
from services.loyalty.service import adjustments

router = APIRouter(prefix="/v1/loyalty/approvals", tags=["approvals"])


def present_approval(row: RowMapping, policy: Any) -> ApprovalRead:
    return ApprovalRead.model_validate(
        {**row, "status": effective_status(row, policy.now()), "entry_id": (row["result"] or {}).get("entry_id")}
    )


@router.get(
    "",
    response_model=ApprovalPage,
    summary="Approval requests, oldest first (a checker's queue; status=pending by default)",
    responses=problem_responses(401, 403, 422),
)
def list_approvals(
    _p: Supervisor,
    db: Db,
    policy: Pol,
    status: Literal["pending", "approved", "rejected", "expired", "all"] = "pending",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ApprovalPage:
    rows, next_cursor = adjustments.list_approvals(
        db, status=None if status == "all" else status, now=policy.now(), limit=limit, cursor=cursor
    )
    return ApprovalPage(items=[present_approval(r, policy) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{approval_id}",
    response_model=ApprovalRead,
    summary="One approval request: what it would do and where it stands",
    responses=problem_responses(401, 403, 404, 422),
)
def read_approval(approval_id: uuid.UUID, _p: Staff, db: Db, policy: Pol) -> ApprovalRead:
    row = adjustments.read_approval(db, approval_id=str(approval_id))
    if row is None:
        raise approval_not_found(approval_id)
    return present_approval(row, policy)


@router.post(
    "/{approval_id}/approve",
    response_model=ApprovalRead,
    summary="Approve: the adjustment is posted in the maker's name, exactly once",
    description="403 `maker_cannot_decide` for the maker, `checker_out_of_branch` for a supervisor of another "
    "branch; 409 `approval_decided`, `approval_expired`, or `points_insufficient` when the balance no longer "
    "covers a debit (the request stays pending).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve(approval_id: uuid.UUID, principal: Supervisor, db: Db, policy: Pol) -> ApprovalRead:
    row, _entry = adjustments.approve(db, approval_id=str(approval_id), checker=principal, policy=policy)
    return present_approval(row, policy)


@router.post(
    "/{approval_id}/reject",
    response_model=ApprovalRead,
    summary="Reject with a reason; nothing is posted",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def reject(approval_id: uuid.UUID, body: Rejection, principal: Supervisor, db: Db, policy: Pol) -> ApprovalRead:
    row = adjustments.reject(db, approval_id=str(approval_id), checker=principal, reason=body.reason, policy=policy)
    return present_approval(row, policy)
