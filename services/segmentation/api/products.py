"""The product catalogue: create, list, read, update, retire."""

import uuid
from collections.abc import Mapping

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from services.common.access import CustomerOrStaff, Supervisor
from services.common.approvals_api import Book, approvals_router, present
from services.common.deps import Cursor, IdemKey, IfMatch, Limit, replay
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.common.idempotency import StoredResponse, idempotency_request
from services.segmentation.api.deps import Ctx
from services.segmentation.schemas import (
    ApprovalPage,
    ApprovalRead,
    Category,
    ProductCreate,
    ProductPage,
    ProductRead,
    ProductUpdate,
)
from services.segmentation.service import products as products_service

router = APIRouter(prefix="/v1/products", tags=["products"])
# Dual control of retirement: the checkers' queue and decisions (included before the products' routes).
approvals = approvals_router(
    "/v1/products/approvals",
    ApprovalRead,
    ApprovalPage,
    noun="product",
    approve_says="The product is retired in the maker's name; 412 when it changed since the request, 409 "
    "`product_retired` when retired meanwhile (the request stays pending).",
)


# --- products and recommendations ---------------------------------------------------------------


@router.post(
    "",
    response_model=ProductRead,
    status_code=201,
    summary="Add a product to the catalogue",
    description="Accepts `Idempotency-Key` as POST /v1/segments does.",
    responses=problem_responses(401, 403, 409, 422),
)
def create_product(
    body: ProductCreate, principal: Supervisor, ctx: Ctx, response: Response, idempotency_key: IdemKey = None
):
    product_in = body.model_dump()
    idem = idempotency_request(
        idempotency_key, caller=principal.sub, operation="create_product", body=body.model_dump(mode="json")
    )
    result = products_service.create_product(
        ctx.db,
        product_in=product_in,
        actor=principal,
        now=ctx.clock(),
        idem=idem,
        present=lambda row: ProductRead.model_validate(row).model_dump(mode="json"),
    )
    if isinstance(result, StoredResponse):
        return replay(result, location=f"/v1/products/{result.body['id']}", etag=etag_for(result.body["version"]))
    response.headers["Location"] = f"/v1/products/{result.id}"
    response.headers["ETag"] = etag_for(result.version)
    return ProductRead.model_validate(result)


@router.get(
    "",
    response_model=ProductPage,
    summary="The catalogue by code, retired products included",
    responses=problem_responses(401, 403, 422),
)
def list_products(
    _p: CustomerOrStaff, ctx: Ctx, category: Category | None = None, limit: Limit = 50, cursor: Cursor = None
) -> ProductPage:
    rows, next_cursor = products_service.list_products(ctx.db, category=category, limit=limit, cursor=cursor)
    return ProductPage(items=[ProductRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{product_id:uuid}",
    response_model=ProductRead,
    summary="One product (ETag carries its version)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_product(product_id: uuid.UUID, _p: CustomerOrStaff, ctx: Ctx, response: Response) -> ProductRead:
    row = products_service.require_product(ctx.db, product_id=str(product_id))
    response.headers["ETag"] = etag_for(row.version)
    return ProductRead.model_validate(row)


@router.patch(
    "/{product_id:uuid}",
    response_model=ProductRead,
    summary="Change an active product (If-Match); the code never changes",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def update_product(
    product_id: uuid.UUID,
    body: ProductUpdate,
    principal: Supervisor,
    ctx: Ctx,
    response: Response,
    if_match: IfMatch = None,
) -> ProductRead:
    row = products_service.update_product(
        ctx.db,
        product_id=str(product_id),
        changes=body.model_dump(exclude_unset=True),
        expected_version=expected_version(if_match),
        actor=principal,
        now=ctx.clock(),
    )
    response.headers["ETag"] = etag_for(row.version)
    return ProductRead.model_validate(row)


@router.post(
    "/{product_id:uuid}/retire",
    response_model=ProductRead,
    summary="Retire a product: never recommended again, still readable (If-Match optional)",
    description="Under dual control (`SEGMENTATION_DUAL_CONTROL_PRODUCT_RETIRE`, on by default) the answer is 202 "
    "with a pending approval request; the product is retired when a supervisor or admin other than the maker "
    "approves it (`POST /v1/products/approvals/{id}/approve`). 409 `approval_pending` while one waits.",
    responses={
        **problem_responses(401, 403, 404, 409, 412, 422),
        202: {"model": ApprovalRead, "description": "pending"},
    },
)
def retire_product(
    product_id: uuid.UUID, principal: Supervisor, ctx: Ctx, book: Book, response: Response, if_match: IfMatch = None
):
    now = ctx.clock()
    row = products_service.retire_product(
        ctx.db,
        product_id=str(product_id),
        expected_version=expected_version(if_match, required=False),
        actor=principal,
        now=now,
        book=book if book.controls(products_service.RETIRE) else None,
    )
    if isinstance(row, Mapping):  # a pending request (a product is a Row)
        return JSONResponse(present(ApprovalRead, row, now).model_dump(mode="json"), status_code=202)
    response.headers["ETag"] = etag_for(row.version)
    return ProductRead.model_validate(row)
