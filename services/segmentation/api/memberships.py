"""A customer's memberships in every scheme and their history."""

from fastapi import APIRouter

from services.common.access import StaffOrSystemSegmentsRead
from services.common.deps import Cursor, Limit
from services.common.errors import problem_responses
from services.segmentation.api.deps import Ctx, CustomerId, present_membership
from services.segmentation.schemas import ChangePage, ChangeRead, MembershipRead
from services.segmentation.service import memberships

router = APIRouter(prefix="/v1/memberships", tags=["memberships"])


@router.get(
    "",
    response_model=MembershipRead,
    summary="A customer's classes, rule segments and features",
    responses=problem_responses(401, 403, 404, 422),
)
def read_memberships(customer_id: CustomerId, _p: StaffOrSystemSegmentsRead, ctx: Ctx) -> MembershipRead:
    f = memberships.require_features(ctx.db, customer_id=str(customer_id))
    segs = memberships.customer_segments(ctx.db, customer_id=str(customer_id))
    return present_membership(f, segs, ctx.clock())


@router.get(
    "/history",
    response_model=ChangePage,
    summary="A customer's class changes, newest first",
    responses=problem_responses(401, 403, 404, 422),
)
def membership_history(
    customer_id: CustomerId, _p: StaffOrSystemSegmentsRead, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
):
    rows, next_cursor = memberships.list_history(ctx.db, customer_id=str(customer_id), limit=limit, cursor=cursor)
    return ChangePage(items=[ChangeRead.model_validate(r) for r in rows], next_cursor=next_cursor)
