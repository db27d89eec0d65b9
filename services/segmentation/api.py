"""Segmentation routes: thin handlers that parse, authorise, call one service function and return a schema."""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from services.common.auth import Principal, ensure_own_customer, require_role
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.common.idempotency import StoredResponse, idempotency_request
from services.common.money import fen_to_str
from services.segmentation import catalogue, service
from services.segmentation import products as products_service
from services.segmentation.schemas import (
    BranchDormant,
    Category,
    ChangePage,
    ChangeRead,
    Channel,
    ClassCount,
    ClassSummary,
    CrossTab,
    CrossTabCell,
    DormantByBranch,
    FeaturesRead,
    JobPage,
    JobRead,
    MemberPage,
    MemberRead,
    MembershipRead,
    MigrationCell,
    MigrationMatrix,
    PreviewRead,
    ProductCreate,
    ProductPage,
    ProductRead,
    ProductUpdate,
    RecommendationList,
    RecommendationRead,
    RecomputeRequest,
    RulePreview,
    Scheme,
    SegmentCreate,
    SegmentMembership,
    SegmentPage,
    SegmentRead,
    SegmentUpdate,
    SegmentVersionRead,
    SegmentVersions,
)
from services.segmentation.service import Context

segments = APIRouter(prefix="/v1/segments", tags=["segments"])
memberships = APIRouter(prefix="/v1/memberships", tags=["memberships"])
recomputes = APIRouter(prefix="/v1/recomputes", tags=["recomputes"])
products = APIRouter(prefix="/v1/products", tags=["products"])
recommendations = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


async def _ctx(request: Request) -> Context:
    return request.app.state.ctx


Ctx = Annotated[Context, Depends(_ctx)]
Staff = Annotated[Principal, Depends(require_role("staff", "supervisor", "admin"))]
Reader = Annotated[Principal, Depends(require_role("staff", "supervisor", "admin", "system"))]
Manager = Annotated[Principal, Depends(require_role("supervisor", "admin"))]
AnyRole = Annotated[Principal, Depends(require_role("customer", "staff", "supervisor", "admin"))]
Limit = Annotated[int, Query(ge=1, le=200, description="page size, at most 200")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor from the previous page")]
CustomerId = Annotated[uuid.UUID, Query(description="the customer's id")]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="1 to 200 visible ASCII characters; retries reuse it")
]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the ETag from your last read")]


def _replay(stored: StoredResponse, prefix: str, etag: str | None = None) -> JSONResponse:
    headers = {"Idempotency-Replayed": "true", "Location": f"{prefix}/{stored.body['id']}"}
    if etag is not None:
        headers["ETag"] = etag
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)


def _member(r) -> MemberRead:
    return MemberRead(
        customer_id=r.customer_id,
        customer_no=r.customer_no,
        branch_code=r.branch_code,
        customer_type=r.class_customer_type,
        region=r.class_region,
        asset_size=r.class_asset_size,
        behaviour=r.class_behaviour,
        aum=fen_to_str(r.aum_fen),
    )


def _members(page) -> MemberPage:
    rows, next_cursor = page
    return MemberPage(items=[_member(r) for r in rows], next_cursor=next_cursor)


# --- recomputes ---------------------------------------------------------------------------------


@recomputes.post(
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
    request: Request, principal: Manager, ctx: Ctx, response: Response, body: RecomputeRequest | None = None
) -> JobRead:
    """The body is optional; without one the job is the daily kind (`windows: moved`)."""
    job, created = service.start_recompute(ctx, actor=principal.sub, windows=(body or RecomputeRequest()).windows)
    if created:
        request.app.state.job_runner(job.id)
        job = service.require_job(ctx.db, job_id=job.id)
    else:
        response.status_code = 200
    response.headers["Location"] = f"/v1/recomputes/{job.id}"
    return JobRead.model_validate(job)


@recomputes.get(
    "", response_model=JobPage, summary="Recompute jobs, newest first", responses=problem_responses(401, 403, 422)
)
def list_recomputes(_p: Reader, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> JobPage:
    rows, next_cursor = service.list_jobs(ctx.db, limit=limit, cursor=cursor)
    return JobPage(items=[JobRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@recomputes.get(
    "/{job_id:uuid}",
    response_model=JobRead,
    summary="A recompute's status and progress",
    responses=problem_responses(401, 403, 404, 422),
)
def read_recompute(job_id: uuid.UUID, _p: Reader, ctx: Ctx) -> JobRead:
    return JobRead.model_validate(service.require_job(ctx.db, job_id=str(job_id)))


# --- segments: analysis and built-in classes (before /{segment_id}) -------------------------------


@segments.get(
    "/analysis/classes",
    response_model=ClassSummary,
    summary="Customers and total AUM per class",
    responses=problem_responses(401, 403, 422),
)
def class_summary(_p: Reader, ctx: Ctx) -> ClassSummary:
    rows = catalogue.class_summary(ctx.db)
    return ClassSummary(
        items=[ClassCount(**{"scheme": s, "class": c, "customers": n, "total_aum": a}) for s, c, n, a in rows]
    )


@segments.get(
    "/analysis/cross-tab",
    response_model=CrossTab,
    summary="Region x asset size: customers and AUM",
    responses=problem_responses(401, 403, 422),
)
def cross_tab(_p: Reader, ctx: Ctx) -> CrossTab:
    rows = catalogue.cross_tab(ctx.db)
    return CrossTab(items=[CrossTabCell(region=r, asset_size=a, customers=n, total_aum=t) for r, a, n, t in rows])


@segments.get(
    "/analysis/migrations",
    response_model=MigrationMatrix,
    summary="How many customers moved from class A (end of from_date) to B (end of to_date)",
    responses=problem_responses(401, 403, 422),
)
def migrations(_p: Reader, ctx: Ctx, scheme: Scheme, from_date: date, to_date: date) -> MigrationMatrix:
    rows = catalogue.migration_matrix(ctx.db, scheme=scheme, from_date=from_date, to_date=to_date)
    cells = [MigrationCell(from_class=a, to_class=b, customers=n) for a, b, n in rows]
    return MigrationMatrix(scheme=scheme, from_date=from_date, to_date=to_date, items=cells)


@segments.get(
    "/analysis/dormant-by-branch",
    response_model=DormantByBranch,
    summary="Dormant customers per branch",
    responses=problem_responses(401, 403, 422),
)
def dormant_by_branch(_p: Reader, ctx: Ctx) -> DormantByBranch:
    rows = catalogue.dormant_by_branch(ctx.db)
    return DormantByBranch(items=[BranchDormant(branch_code=b, customers=n, total_aum=a) for b, n, a in rows])


@segments.get(
    "/classes/{scheme}/{class_}/members",
    response_model=MemberPage,
    summary="Customers in one class of a built-in scheme",
    responses=problem_responses(401, 403, 422),
)
def class_members(
    scheme: Scheme, class_: Annotated[str, "class"], _p: Reader, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> MemberPage:
    return _members(service.list_class_members(ctx.db, scheme=scheme, class_=class_, limit=limit, cursor=cursor))


# --- rule segments ------------------------------------------------------------------------------


@segments.post(
    "/preview",
    response_model=PreviewRead,
    summary="Count and sample of a rule, nothing saved",
    responses=problem_responses(401, 403, 422),
)
def preview_segment(body: RulePreview, _p: Staff, ctx: Ctx) -> PreviewRead:
    count, sample = service.preview_segment(ctx, rule=body.rule)
    return PreviewRead(count=count, sample=sample)


@segments.post(
    "",
    response_model=SegmentRead,
    status_code=201,
    summary="Save a rule segment (version 1)",
    description="Accepts `Idempotency-Key`: the same key and body return the first response again "
    "(header `Idempotency-Replayed: true`); the same key with another body is 409 "
    "idempotency_key_reused.",
    responses=problem_responses(401, 403, 409, 422),
)
def create_segment(
    body: SegmentCreate, principal: Staff, ctx: Ctx, response: Response, idempotency_key: IdempotencyKey = None
):
    idem = idempotency_request(
        idempotency_key, caller=principal.sub, operation="create_segment", body=body.model_dump(mode="json")
    )
    result = service.create_segment(
        ctx,
        name=body.name,
        description=body.description,
        rule=body.rule,
        actor=principal.sub,
        idem=idem,
        present=lambda row: SegmentRead.model_validate(row).model_dump(mode="json"),
    )
    if isinstance(result, StoredResponse):
        return _replay(result, "/v1/segments", etag=etag_for(result.body["version"]))
    response.headers["Location"] = f"/v1/segments/{result.id}"
    response.headers["ETag"] = etag_for(result.version)
    return SegmentRead.model_validate(result)


@segments.get(
    "", response_model=SegmentPage, summary="Rule segments by name", responses=problem_responses(401, 403, 422)
)
def list_segments(_p: Reader, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> SegmentPage:
    rows, next_cursor = service.list_segments(ctx.db, limit=limit, cursor=cursor)
    return SegmentPage(items=[SegmentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@segments.get(
    "/{segment_id:uuid}",
    response_model=SegmentRead,
    summary="A rule segment (ETag carries its version)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_segment(segment_id: uuid.UUID, _p: Reader, ctx: Ctx, response: Response) -> SegmentRead:
    row = service.require_segment(ctx.db, segment_id=str(segment_id))
    response.headers["ETag"] = etag_for(row.version)
    return SegmentRead.model_validate(row)


@segments.patch(
    "/{segment_id:uuid}",
    response_model=SegmentRead,
    summary="A new version of a rule segment (If-Match)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def update_segment(
    segment_id: uuid.UUID, body: SegmentUpdate, principal: Staff, ctx: Ctx, response: Response, if_match: IfMatch = None
) -> SegmentRead:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    row = service.update_segment(
        ctx,
        segment_id=str(segment_id),
        changes=changes,
        expected_version=expected_version(if_match),
        actor=principal.sub,
    )
    response.headers["ETag"] = etag_for(row.version)
    return SegmentRead.model_validate(row)


@segments.get(
    "/{segment_id:uuid}/versions",
    response_model=SegmentVersions,
    summary="Every version, newest first",
    responses=problem_responses(401, 403, 404, 422),
)
def segment_versions(segment_id: uuid.UUID, _p: Reader, ctx: Ctx) -> SegmentVersions:
    rows = service.list_segment_versions(ctx.db, segment_id=str(segment_id))
    return SegmentVersions(items=[SegmentVersionRead.model_validate(r) for r in rows])


@segments.get(
    "/{segment_id:uuid}/members",
    response_model=MemberPage,
    summary="Current members, by customer id",
    responses=problem_responses(401, 403, 404, 422),
)
def segment_members(segment_id: uuid.UUID, _p: Reader, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None):
    return _members(service.list_segment_members(ctx.db, segment_id=str(segment_id), limit=limit, cursor=cursor))


@segments.get(
    "/{segment_id:uuid}/targets",
    response_model=MemberPage,
    summary="Members who may be contacted for marketing now (optionally on one channel)",
    responses=problem_responses(401, 403, 404, 422),
)
def segment_targets(
    segment_id: uuid.UUID, _p: Staff, ctx: Ctx, channel: Channel | None = None, limit: Limit = 50, cursor: Cursor = None
) -> MemberPage:
    page = service.list_targets(ctx.db, segment_id=str(segment_id), channel=channel, limit=limit, cursor=cursor)
    return _members(page)


# --- memberships --------------------------------------------------------------------------------


def _features(f, now) -> FeaturesRead:
    m = f._mapping
    tenure = (now - f.registered_at).days if f.registered_at else None
    money = {f"txn_amount_{w}": fen_to_str(m[f"txn_amount_fen_{w}"]) for w in (30, 90, 365)}
    plain = {k: m[k] for k in FeaturesRead.model_fields if k in m}
    return FeaturesRead(**plain, **money, aum=fen_to_str(f.aum_fen), tenure_days=tenure)


@memberships.get(
    "",
    response_model=MembershipRead,
    summary="A customer's classes, rule segments and features",
    responses=problem_responses(401, 403, 404, 422),
)
def read_memberships(customer_id: CustomerId, _p: Reader, ctx: Ctx) -> MembershipRead:
    f = service.require_features(ctx.db, customer_id=str(customer_id))
    segs = service.customer_segments(ctx.db, customer_id=str(customer_id))
    return MembershipRead(
        customer_id=f.customer_id,
        classes={s: f._mapping[f"class_{s}"] for s in ("customer_type", "region", "asset_size", "behaviour")},
        segments=[SegmentMembership(segment_id=r.id, name=r.name, since=r.since) for r in segs],
        features=_features(f, ctx.clock()),
    )


@memberships.get(
    "/history",
    response_model=ChangePage,
    summary="A customer's class changes, newest first",
    responses=problem_responses(401, 403, 404, 422),
)
def membership_history(customer_id: CustomerId, _p: Reader, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None):
    rows, next_cursor = service.list_history(ctx.db, customer_id=str(customer_id), limit=limit, cursor=cursor)
    return ChangePage(items=[ChangeRead.model_validate(r) for r in rows], next_cursor=next_cursor)


# --- products and recommendations ---------------------------------------------------------------


@products.post(
    "",
    response_model=ProductRead,
    status_code=201,
    summary="Add a product to the catalogue",
    description="Accepts `Idempotency-Key` as POST /v1/segments does.",
    responses=problem_responses(401, 403, 409, 422),
)
def create_product(
    body: ProductCreate, principal: Manager, ctx: Ctx, response: Response, idempotency_key: IdempotencyKey = None
):
    product_in = body.model_dump()
    idem = idempotency_request(
        idempotency_key, caller=principal.sub, operation="create_product", body=body.model_dump(mode="json")
    )
    result = products_service.create_product(
        ctx.db,
        product_in=product_in,
        now=ctx.clock(),
        idem=idem,
        present=lambda row: ProductRead.model_validate(row).model_dump(mode="json"),
    )
    if isinstance(result, StoredResponse):
        return _replay(result, "/v1/products", etag=etag_for(result.body["version"]))
    response.headers["Location"] = f"/v1/products/{result.id}"
    response.headers["ETag"] = etag_for(result.version)
    return ProductRead.model_validate(result)


@products.get(
    "",
    response_model=ProductPage,
    summary="The catalogue by code, retired products included",
    responses=problem_responses(401, 403, 422),
)
def list_products(
    _p: AnyRole, ctx: Ctx, category: Category | None = None, limit: Limit = 50, cursor: Cursor = None
) -> ProductPage:
    rows, next_cursor = products_service.list_products(ctx.db, category=category, limit=limit, cursor=cursor)
    return ProductPage(items=[ProductRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@products.get(
    "/{product_id:uuid}",
    response_model=ProductRead,
    summary="One product (ETag carries its version)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_product(product_id: uuid.UUID, _p: AnyRole, ctx: Ctx, response: Response) -> ProductRead:
    row = products_service.require_product(ctx.db, product_id=str(product_id))
    response.headers["ETag"] = etag_for(row.version)
    return ProductRead.model_validate(row)


@products.patch(
    "/{product_id:uuid}",
    response_model=ProductRead,
    summary="Change an active product (If-Match); the code never changes",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def update_product(
    product_id: uuid.UUID, body: ProductUpdate, _p: Manager, ctx: Ctx, response: Response, if_match: IfMatch = None
) -> ProductRead:
    row = products_service.update_product(
        ctx.db,
        product_id=str(product_id),
        changes=body.model_dump(exclude_unset=True),
        expected_version=expected_version(if_match),
        now=ctx.clock(),
    )
    response.headers["ETag"] = etag_for(row.version)
    return ProductRead.model_validate(row)


@products.post(
    "/{product_id:uuid}/retire",
    response_model=ProductRead,
    summary="Retire a product: never recommended again, still readable (If-Match optional)",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def retire_product(
    product_id: uuid.UUID, _p: Manager, ctx: Ctx, response: Response, if_match: IfMatch = None
) -> ProductRead:
    row = products_service.retire_product(
        ctx.db, product_id=str(product_id), expected_version=expected_version(if_match, required=False), now=ctx.clock()
    )
    response.headers["ETag"] = etag_for(row.version)
    return ProductRead.model_validate(row)


@recommendations.get(
    "",
    response_model=RecommendationList,
    summary="Products that fit the customer's classes and needs and pass suitability, best first",
    responses=problem_responses(401, 403, 404, 422),
)
def recommend(customer_id: CustomerId, principal: AnyRole, ctx: Ctx) -> RecommendationList:
    ensure_own_customer(principal, str(customer_id), service.customer_not_found(customer_id))
    f = service.require_features(ctx.db, customer_id=str(customer_id))
    recs = catalogue.recommend(ctx.db, customer_id=str(customer_id), now=ctx.clock(), features=f)
    items = [
        RecommendationRead(rank=i + 1, product=ProductRead.model_validate(r.product), reason=r.reason)
        for i, r in enumerate(recs)
    ]
    return RecommendationList(customer_id=str(customer_id), classes=catalogue.customer_classes(f), items=items)


routers = [recomputes, segments, memberships, products, recommendations]
