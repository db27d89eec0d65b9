"""The organisation tree: anyone signed in reads it; the head office's admin edits it."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.common.access import Admin, CustomerOrStaff
from services.common.deps import Cursor, Db, IfMatch, Limit
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.profile.schemas.branches import (
    BranchCreate,
    BranchDetail,
    BranchPage,
    BranchRead,
    BranchStatus,
    BranchUpdate,
    Level,
)
from services.profile.schemas.customers import BranchCode
from services.profile.service import branches
from services.profile.service.branches import BranchFilter

router = APIRouter(prefix="/v1/branches", tags=["branches"])
CodePath = Annotated[str, Path(pattern=r"^[A-Z0-9]{4,16}$")]


@router.get("", response_model=BranchPage, summary="List branches", responses=problem_responses(401, 403, 404, 422))
def list_branches(
    _p: CustomerOrStaff,
    db: Db,
    within: Annotated[BranchCode | None, Query(description="a branch's whole subtree, itself included")] = None,
    parent_code: BranchCode | None = None,
    level: Level | None = None,
    status: BranchStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> BranchPage:
    filters = BranchFilter(within=within, parent_code=parent_code, level=level, status=status)
    rows, next_cursor = branches.list_branches(db, filters=filters, limit=limit, cursor=cursor)
    return BranchPage(items=[BranchRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{code}",
    response_model=BranchDetail,
    summary="A branch with its ancestors and children",
    responses=problem_responses(401, 403, 404, 422),
)
def read_branch(code: CodePath, _p: CustomerOrStaff, db: Db, response: Response) -> BranchDetail:
    row, above, children = branches.read_branch(db, code=code)
    response.headers["ETag"] = etag_for(row.version)
    return BranchDetail(
        **BranchRead.model_validate(row).model_dump(),
        ancestors=[BranchRead.model_validate(r) for r in above],
        children=[BranchRead.model_validate(r) for r in children],
    )


@router.post(
    "",
    status_code=201,
    response_model=BranchRead,
    summary="Open a branch (admin)",
    responses=problem_responses(401, 403, 409, 422),
)
def create_branch(body: BranchCreate, _p: Admin, db: Db, response: Response) -> BranchRead:
    row = branches.create_branch(db, branch_in=body)
    response.headers["Location"] = f"/v1/branches/{row.code}"
    response.headers["ETag"] = etag_for(row.version)
    return BranchRead.model_validate(row)


@router.patch(
    "/{code}",
    response_model=BranchRead,
    summary="Rename, move or close a branch (admin; If-Match optional)",
    description="Moving a branch takes its whole subtree along; moving it under itself or anything below it "
    "is 409 `branch_cycle`. Closing needs every branch below it closed and no active customer in it "
    "(409 `branch_in_use`); a closed branch stays readable and in scope for its records.",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def update_branch(
    code: CodePath, body: BranchUpdate, _p: Admin, db: Db, response: Response, if_match: IfMatch = None
) -> BranchRead:
    row = branches.update_branch(
        db, code=code, changes=body, expected_version=expected_version(if_match, required=False)
    )
    response.headers["ETag"] = etag_for(row.version)
    return BranchRead.model_validate(row)
