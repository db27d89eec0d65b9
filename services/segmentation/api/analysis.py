"""The class catalogue, and segment analysis over the built-in classes: summary, cross-tab, migrations,
dormant by branch, class members. Included before the rule-segment routes, whose /{segment_id} would
shadow these."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter

from services.common.access import StaffOrSystemSegmentsRead
from services.common.branch_scope import Reach
from services.common.deps import Cursor, Limit
from services.common.errors import problem_responses
from services.common.personal_data import PurposeQuery
from services.segmentation.api.deps import Ctx, logged_member_page
from services.segmentation.schemas import (
    BranchDormant,
    CatalogueClass,
    ClassCatalogue,
    ClassCount,
    ClassSummary,
    CrossTab,
    CrossTabCell,
    DormantByBranch,
    MemberPage,
    MigrationCell,
    MigrationMatrix,
    Scheme,
)
from services.segmentation.service import catalogue, segments

router = APIRouter(prefix="/v1/segments", tags=["segments"])


# --- segments: the class catalogue, analysis and built-in classes (before /{segment_id}) ----------


@router.get(
    "/classes",
    response_model=ClassCatalogue,
    summary="Every class a customer can be in: the built-in schemes' and each rule segment's",
    description="The catalogue other services check their references to a class against (a loyalty "
    'reward\'s `eligible_segments`, for one): `id` is the class as `segment.changed` names it, "scheme:class", '
    'and "rule:<segment id>:member" for a rule segment.',
    responses=problem_responses(401, 403, 422),
)
def class_catalogue(_p: StaffOrSystemSegmentsRead, ctx: Ctx) -> ClassCatalogue:
    return ClassCatalogue(
        items=[
            CatalogueClass(**{"id": f"{s}:{c}", "scheme": s, "class": c, "label": label})
            for s, c, label in catalogue.class_catalogue(ctx.db)
        ]
    )


@router.get(
    "/analysis/classes",
    response_model=ClassSummary,
    summary="Customers and total AUM per class",
    responses=problem_responses(401, 403, 422),
)
def class_summary(_p: StaffOrSystemSegmentsRead, ctx: Ctx, reach: Reach) -> ClassSummary:
    rows = catalogue.class_summary(ctx.db, reach)
    return ClassSummary(
        items=[ClassCount(**{"scheme": s, "class": c, "customers": n, "total_aum": a}) for s, c, n, a in rows]
    )


@router.get(
    "/analysis/cross-tab",
    response_model=CrossTab,
    summary="Region x asset size: customers and AUM",
    responses=problem_responses(401, 403, 422),
)
def cross_tab(_p: StaffOrSystemSegmentsRead, ctx: Ctx, reach: Reach) -> CrossTab:
    rows = catalogue.cross_tab(ctx.db, reach)
    return CrossTab(items=[CrossTabCell(region=r, asset_size=a, customers=n, total_aum=t) for r, a, n, t in rows])


@router.get(
    "/analysis/migrations",
    response_model=MigrationMatrix,
    summary="How many customers moved from class A (end of from_date) to B (end of to_date)",
    description="Staff and supervisors count only the customers of their branch's subtree (by the branch "
    "a customer is at now).",
    responses=problem_responses(401, 403, 422),
)
def migrations(
    _p: StaffOrSystemSegmentsRead, ctx: Ctx, reach: Reach, scheme: Scheme, from_date: date, to_date: date
) -> MigrationMatrix:
    rows = catalogue.migration_matrix(ctx.db, scheme=scheme, from_date=from_date, to_date=to_date, reach=reach)
    cells = [MigrationCell(from_class=a, to_class=b, customers=n) for a, b, n in rows]
    return MigrationMatrix(scheme=scheme, from_date=from_date, to_date=to_date, items=cells)


@router.get(
    "/analysis/dormant-by-branch",
    response_model=DormantByBranch,
    summary="Dormant customers per branch",
    responses=problem_responses(401, 403, 422),
)
def dormant_by_branch(_p: StaffOrSystemSegmentsRead, ctx: Ctx, reach: Reach) -> DormantByBranch:
    rows = catalogue.dormant_by_branch(ctx.db, reach)
    return DormantByBranch(items=[BranchDormant(branch_code=b, customers=n, total_aum=a) for b, n, a in rows])


@router.get(
    "/classes/{scheme}/{class_}/members",
    response_model=MemberPage,
    summary="Customers in one class of a built-in scheme",
    responses=problem_responses(401, 403, 422),
)
def class_members(
    scheme: Scheme,
    class_: Annotated[str, "class"],
    principal: StaffOrSystemSegmentsRead,
    ctx: Ctx,
    purpose: PurposeQuery,
    reach: Reach,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MemberPage:
    page = segments.list_class_members(ctx.db, scheme=scheme, class_=class_, limit=limit, cursor=cursor, reach=reach)
    return logged_member_page(ctx, page, what=f"class:{scheme}:{class_}:members", purpose=purpose, actor=principal)
