"""Profile routes: thin handlers that parse, authorise, call one service function and return a schema."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor

from services.common.access import (
    CustomerOrStaff,
    EveryoneCustomersRead,
    Staff,
    StaffOrSystemCustomersRead,
    Supervisor,
    SystemOrAdminCustomersWrite,
)
from services.common.approvals_api import approvals_router, present
from services.common.auth import ensure_own_customer
from services.common.branch_scope import Reach
from services.common.deps import Cursor, Db, IdemKey, IfMatch, Limit, Now, replay
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.common.idempotency import StoredResponse, idempotency_request
from services.common.personal_data import Purpose
from services.common.responses import model_response
from services.profile.api.deps import Priv, RevealGate
from services.profile.schemas.approvals import ApprovalPage, ApprovalRead
from services.profile.schemas.customers import (
    AuditEntryRead,
    AuditPage,
    CustomerBatch,
    CustomerBatchResult,
    CustomerClose,
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerType,
    CustomerUpdate,
    IdentityCorrection,
    IdType,
    PersonalDataRead,
    RegionType,
    Status,
)
from services.profile.service import bulk_registration, customers, rectification, registration
from services.profile.service.customers import CustomerFilter, Privacy
from services.profile.service.reasons import ACCESS_REASON, with_reason


class NotApprovals(StringConvertor):
    """A path segment other than `approvals`, so the approvals queue's path never reaches a route that
    takes a customer id with another method (any other value still reaches it, and is refused there)."""

    regex = "(?!approvals$)[^/]+"


register_url_convertor("not_approvals", NotApprovals())
router = APIRouter(prefix="/v1/customers", tags=["customers"])
# The collection's custom method (/v1/customers:batch) is no sub-path of the prefix.
batch_router = APIRouter(tags=["customers"])
# Dual control of erasure and of reveals beyond the daily count: the checkers' queue and decisions.
approvals = approvals_router(
    "/v1/customers/approvals",
    ApprovalRead,
    ApprovalPage,
    noun="customer",
    approve_says="customer.erase: the erasure runs in the maker's name (409 `customer_erased` when done meanwhile: "
    "the request stays pending). customer.reveal: the maker's next reveal of the customer is answered, once, until "
    "the request's expiry (its `result` says when it was used).",
)


CustomerId = Annotated[uuid.UUID, "customer id"]


@router.post(
    "",
    status_code=201,
    response_model=CustomerRead,
    summary="Register a customer",
    responses=problem_responses(401, 403, 409, 422),
)
def register_customer(
    body: CustomerCreate,
    principal: Staff,
    db: Db,
    privacy: Priv,
    reach: Reach,
    response: Response,
    idempotency_key: IdemKey = None,
):
    # Without a document the body fingerprints as it did before id_document existed, so a key's
    # retry across the upgrade still replays.
    fields = body.model_dump(mode="json", exclude={"id_document"} if body.id_document is None else None)
    idem = idempotency_request(idempotency_key, caller=principal.sub, operation="register_customer", body=fields)
    result = registration.register_customer(
        db, customer_in=body, actor=principal, privacy=privacy, idem=idem, reach=reach
    )
    if isinstance(result, StoredResponse):
        return replay(result, location=f"/v1/customers/{result.body['id']}")
    response.headers["Location"] = f"/v1/customers/{result.id}"
    response.headers["ETag"] = etag_for(result.version)
    return result


@router.get("", response_model=CustomerPage, summary="Search customers", responses=problem_responses(401, 403, 422))
def search_customers(
    _p: StaffOrSystemCustomersRead,
    db: Db,
    privacy: Priv,
    reach: Reach,
    customer_no: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    name_prefix: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    branch_code: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{4,16}$")] = None,
    type: CustomerType | None = None,
    region_type: RegionType | None = None,
    status: Status | None = None,
    id_number: Annotated[
        str | None,
        Query(min_length=5, max_length=20, description="exact match; of any type it is valid as, unless id_type says"),
    ] = None,
    id_type: Annotated[IdType | None, Query(description="with id_number: the document type")] = None,
    id_country: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{3}$", description="with id_type=passport: the issuing state")
    ] = None,
    phone: Annotated[str | None, Query(min_length=7, max_length=20, description="exact match")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CustomerPage:
    filters = CustomerFilter(
        customer_no=customer_no,
        name_prefix=name_prefix,
        branch_code=branch_code,
        type=type,
        region_type=region_type,
        status=status,
        id_number=id_number,
        id_type=id_type,
        id_country=id_country,
        phone=phone,
        branches=None if reach is None else frozenset(reach),
    )
    rows, next_cursor = customers.search_customers(db, filters=filters, privacy=privacy, limit=limit, cursor=cursor)
    return CustomerPage(items=[customers.present_customer(c, privacy) for c in rows], next_cursor=next_cursor)


@router.get(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="Read a customer (masked); with a purpose, the read is on the access log",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_customer(
    customer_id: CustomerId,
    principal: EveryoneCustomersRead,
    request: Request,
    privacy: Priv,
    db: Db,
    purpose: Annotated[
        Purpose | None,
        Query(
            description="why staff read the customer (the gateway's overview states it): the read is written to "
            "the access log with this purpose"
        ),
    ] = None,
) -> Response:
    # The hottest path in the suite; its common case (no purpose) is answered in front of FastAPI by
    # services.profile.api.fast_read, with the same read and the same customer_response.
    ensure_own_customer(principal, customer_id, customers.customer_not_found(customer_id))
    customer = await request.app.state.customer_by_id(customer_id)
    if customer is None:
        raise customers.customer_not_found(customer_id)
    if purpose is not None and not principal.is_customer:
        await run_in_threadpool(
            customers.record_view, db, customer_id=customer_id, actor=principal, purpose=purpose, vault=privacy.vault
        )
    return customer_response(customer, privacy)


def customer_response(customer, privacy: Privacy) -> Response:
    """A customer as GET /v1/customers/{id} answers: the masked view, serialised once, with its ETag."""
    return model_response(customers.present_customer(customer, privacy), headers={"ETag": etag_for(customer.version)})


@router.patch(
    "/{customer_id:not_approvals}",  # PATCH /v1/customers/approvals is 405, not a customer id refused
    response_model=CustomerRead,
    summary="Update a customer (If-Match required); a customer corrects their own name and contact data",
    description="Staff change any field sent. A customer's own token may change `name`, `phone`, `email` and "
    "`contact_name` (PIPL art. 46, rectification); any other field is 422 `not_self_service`. A change to "
    "personal fields is on the access log (`personal_data.rectified`); `customer.updated` carries it to the "
    "other services.",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def update_customer(
    customer_id: CustomerId,
    body: CustomerUpdate,
    principal: CustomerOrStaff,
    db: Db,
    privacy: Priv,
    reach: Reach,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerRead:
    ensure_own_customer(principal, customer_id, customers.customer_not_found(customer_id))
    if principal.is_customer:
        rectification.check_self_service(body)
    customer = customers.update_customer(
        db,
        customer_id=customer_id,
        changes=body,
        expected_version=expected_version(if_match),
        privacy=privacy,
        on_change=rectification.rectification_log(principal, privacy.vault),
        reach=reach,
    )
    response.headers["ETag"] = etag_for(customer.version)
    return customers.present_customer(customer, privacy)


@router.post(
    "/{customer_id}/identity-corrections",
    response_model=CustomerRead,
    summary="Correct an individual's identity document (staff, with a reason on the access log; If-Match required)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def correct_identity(
    customer_id: CustomerId,
    body: IdentityCorrection,
    principal: Staff,
    db: Db,
    privacy: Priv,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerRead:
    """Identity-bound data (the document, and the birth date it carries) never changes by the customer's
    own hand. 409 `customer_duplicate` when another customer holds the document."""
    customer = rectification.correct_identity(
        db,
        customer_id=customer_id,
        correction=body,
        actor=principal,
        privacy=privacy,
        expected_version=expected_version(if_match),
    )
    response.headers["ETag"] = etag_for(customer.version)
    return customers.present_customer(customer, privacy)


@router.post(
    "/{customer_id}/close",
    response_model=CustomerRead,
    summary="Close a customer (never deleted; If-Match optional)",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def close_customer(
    customer_id: CustomerId,
    _p: Staff,
    db: Db,
    privacy: Priv,
    response: Response,
    body: CustomerClose | None = None,
    if_match: IfMatch = None,
) -> CustomerRead:
    customer = customers.close_customer(
        db,
        customer_id=customer_id,
        reason=body.reason if body else None,
        expected_version=expected_version(if_match, required=False),
    )
    response.headers["ETag"] = etag_for(customer.version)
    return customers.present_customer(customer, privacy)


@router.get(
    "/{customer_id}/personal-data",
    response_model=PersonalDataRead,
    summary="Full identity number, phone and email (permitted roles; every read is logged)",
    description="Past `PROFILE_REVEAL_DAILY_LIMIT` reveals today (20; 0 turns it off), the caller's next reveal is "
    "202 with a pending approval request; once a supervisor or admin other than the caller approves it "
    "(`POST /v1/customers/approvals/{id}/approve`), the caller's next reveal of this customer is answered, once, "
    "until the request's expiry. 409 `approval_pending` while a request for the customer waits.",
    responses={**problem_responses(401, 403, 404, 409, 422), 202: {"model": ApprovalRead, "description": "pending"}},
)
def read_personal_data(
    customer_id: CustomerId,
    principal: Staff,
    db: Db,
    privacy: Priv,
    gate: RevealGate,
    reason: Annotated[str, Query(min_length=5, max_length=200, description="why you need the full values")],
):
    result = customers.reveal_personal_data(
        db, customer_id=customer_id, actor=principal, reason=reason, privacy=privacy, gate=gate
    )
    if isinstance(result, PersonalDataRead):
        return result
    return JSONResponse(present(ApprovalRead, result, result["requested_at"]).model_dump(mode="json"), status_code=202)


@router.get(
    "/{customer_id}/access-log",
    response_model=AuditPage,
    summary="Who read the customer's full personal data or overrode a check, newest first",
    responses=problem_responses(401, 403, 404, 422),
)
def read_access_log(
    customer_id: CustomerId, _p: Supervisor, db: Db, privacy: Priv, limit: Limit = 50, cursor: Cursor = None
) -> AuditPage:
    rows, next_cursor = customers.list_audit_entries(db, customer_id=customer_id, limit=limit, cursor=cursor)
    items = [with_reason(AuditEntryRead.model_validate(r), privacy.vault, ACCESS_REASON) for r in rows]
    return AuditPage(items=items, next_cursor=next_cursor)


@batch_router.post(
    "/v1/customers:batch",
    response_model=CustomerBatchResult,
    summary="Register up to 1,000 customers (migration; system or admin); idempotent by external_id, "
    "bad items refused alone",
    description="Each item is a registration as `POST /v1/customers` takes it, plus `external_id`, the source "
    "system's id for the customer. The same item again is a duplicate (nothing changes); another item under "
    "the same `external_id` is refused `external_id_conflict`; an identity already registered `customer_duplicate`.",
    responses=problem_responses(401, 403, 413, 422),
)
def register_customers(
    body: CustomerBatch, principal: SystemOrAdminCustomersWrite, db: Db, privacy: Priv, now: Now
) -> Response:
    return model_response(
        bulk_registration.register_customers(db, items=body.items, actor=principal, privacy=privacy, now=now)
    )
