"""A customer's memberships in every scheme and their history."""

from fastapi import APIRouter

from services.common.access import StaffOrSystemSegmentsRead
from services.common.deps import Cursor, Limit
from services.common.errors import problem_responses
from services.common.money import fen_to_str
from services.segmentation.api.deps import Ctx, CustomerId
from services.segmentation.schemas import (
    ChangePage,
    ChangeRead,
    FeaturesRead,
    MembershipRead,
    SegmentMembership,
)
from services.segmentation.service import memberships

router = APIRouter(prefix="/v1/memberships", tags=["memberships"])


# --- memberships --------------------------------------------------------------------------------


def _features(f, now) -> FeaturesRead:
    m = f._mapping
    tenure = (now - f.registered_at).days if f.registered_at else None
    money = {f"txn_amount_{w}": fen_to_str(m[f"txn_amount_fen_{w}"]) for w in (30, 90, 365)}
    plain = {k: m[k] for k in FeaturesRead.model_fields if k in m}
    return FeaturesRead(**plain, **money, aum=fen_to_str(f.aum_fen), tenure_days=tenure)


@router.get(
    "",
    response_model=MembershipRead,
    summary="A customer's classes, rule segments and features",
    responses=problem_responses(401, 403, 404, 422),
)
def read_memberships(customer_id: CustomerId, _p: StaffOrSystemSegmentsRead, ctx: Ctx) -> MembershipRead:
    f = memberships.require_features(ctx.db, customer_id=str(customer_id))
    segs = memberships.customer_segments(ctx.db, customer_id=str(customer_id))
    return MembershipRead(
        customer_id=f.customer_id,
        classes={s: f._mapping[f"class_{s}"] for s in ("customer_type", "region", "asset_size", "behaviour")},
        segments=[SegmentMembership(segment_id=r.id, name=r.name, since=r.since) for r in segs],
        features=_features(f, ctx.clock()),
    )


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
