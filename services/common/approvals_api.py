"""The approvals routes every service under dual control serves the same way (`<prefix>` is the
service's own path style): the checkers' queue, one request, approve, reject. The service's
`ApprovalBook` is `app.state.approvals`; its read model narrows `action`, `why` and `payload`."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field

from services.common.access import Staff, Supervisor
from services.common.approvals import Approval, ApprovalBook, approval_not_found, effective_status, masked
from services.common.deps import Cursor, Db, Limit, Now
from services.common.errors import problem_responses
from services.common.schema import RequestModel, ResponseModel
from services.common.text import single_line

ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]


class ApprovalReadBase(ResponseModel):
    """The fields every service's approval request has; each service narrows action, why, payload."""

    id: uuid.UUID
    action: str
    object_id: str
    payload: Any = Field(description="exactly what approval does")
    why: str
    status: ApprovalStatus
    maker_sub: str
    maker_role: str
    maker_branch: str | None
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    checker_sub: str | None
    checker_role: str | None
    note: str | None = Field(description="the checker's reason for a rejection")
    result: dict[str, Any] | None = Field(description="what the approved action produced (ids), or its use")


class Rejection(RequestModel):
    reason: Annotated[str, Field(min_length=5, max_length=500), AfterValidator(single_line)]


def present(read_model: type[ApprovalReadBase], row: Approval, now: datetime) -> Any:
    """The request as a response shows it: its typed free text masked (no role reads it in full here;
    the object's own reveal, where it has one, is the way to full personal data)."""
    return read_model.model_validate({**masked(row), "status": effective_status(row, now)})


def _book(request: Request) -> ApprovalBook:
    book: ApprovalBook = request.app.state.approvals
    return book


Book = Annotated[ApprovalBook, Depends(_book)]


def approvals_router(
    prefix: str,
    read_model: type[ApprovalReadBase],
    page_model: type[BaseModel],
    *,
    approve_says: str,
    noun: str = "",
    present_row: Callable[[Approval, datetime], Any] | None = None,
) -> APIRouter:
    """`approve_says`: what approval does and the 409s an executor may add (the route's description);
    `noun` names the operations apart across the suite (`list_<noun>_approvals`, `approve_<noun>_request`)."""
    part = f"{noun}_" if noun else ""
    router = APIRouter(prefix=prefix, tags=["approvals"])
    show = present_row or (lambda row, now: present(read_model, row, now))
    actions = read_model.model_fields["action"].annotation

    @router.get(
        "",
        response_model=page_model,
        summary="Approval requests, oldest first (a checker's queue; status=pending by default)",
        responses=problem_responses(401, 403, 422),
        name=f"list_{part}approvals",
    )
    def list_approvals(
        principal: Supervisor,
        db: Db,
        book: Book,
        now: Now,
        status: Literal["pending", "approved", "rejected", "expired", "all"] = "pending",
        action: Annotated[actions | None, Query(description="only requests for this action")] = None,  # type: ignore[valid-type]
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Any:
        rows, next_cursor = book.list(
            db,
            status=None if status == "all" else status,
            action=action,
            now=now,
            limit=limit,
            cursor=cursor,
            reader=principal,
        )
        return page_model.model_validate({"items": [show(r, now) for r in rows], "next_cursor": next_cursor})

    @router.get(
        "/{approval_id}",
        response_model=read_model,
        summary="One approval request: what it would do and where it stands",
        responses=problem_responses(401, 403, 404, 422),
        name=f"read_{part}approval",
    )
    def read_approval(approval_id: uuid.UUID, principal: Staff, db: Db, book: Book, now: Now) -> Any:
        row = book.read(db, approval_id=str(approval_id), reader=principal)
        if row is None:
            raise approval_not_found(approval_id)
        return show(row, now)

    @router.post(
        "/{approval_id}/approve",
        response_model=read_model,
        summary="Approve: the action is done in the maker's name, exactly once",
        description="403 `maker_cannot_decide` for the maker; 404 also for a supervisor outside the maker's branch "
        f"and those above it; 409 `approval_decided`, `approval_expired`. {approve_says}",
        responses=problem_responses(401, 403, 404, 409, 422),
        name=f"approve_{part}request" if part else "approve",
    )
    def approve(approval_id: uuid.UUID, principal: Supervisor, db: Db, book: Book, now: Now) -> Any:
        row = book.approve(db, approval_id=str(approval_id), checker=principal, now=now)
        return show(row, now)

    @router.post(
        "/{approval_id}/reject",
        response_model=read_model,
        summary="Reject with a reason; nothing is done",
        responses=problem_responses(401, 403, 404, 409, 422),
        name=f"reject_{part}request" if part else "reject",
    )
    def reject(approval_id: uuid.UUID, body: Rejection, principal: Supervisor, db: Db, book: Book, now: Now) -> Any:
        row = book.reject(db, approval_id=str(approval_id), checker=principal, reason=body.reason, now=now)
        return show(row, now)

    return router
