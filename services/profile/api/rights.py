"""Routes for personal-data rights: export and erasure requests."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from services.common.access import CustomerOrSupervisor, Supervisor
from services.common.approvals_api import Book, present
from services.common.auth import ensure_own_customer
from services.common.deps import Db, Now
from services.common.errors import problem_responses
from services.common.responses import model_response
from services.profile.api.deps import CustomerId, Priv
from services.profile.schemas.approvals import ApprovalRead
from services.profile.schemas.rights import CustomerExport, ErasureRequestCreate, ErasureRequestList, ErasureRequestRead
from services.profile.service import rights as svc
from services.profile.service.customers import customer_not_found
from services.profile.service.dual_control import ERASE
from services.profile.service.dual_control import request_erasure as request_erasure_approval

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["personal-data rights"])
# A customer exercises its own rights; a supervisor acts on its request. Staff and system may not.


@router.get(
    "/export",
    response_model=CustomerExport,
    summary="Everything the profile holds about the customer, full values (written to the access log)",
    responses=problem_responses(401, 403, 404, 422),
)
def export_customer(
    customer_id: CustomerId, principal: CustomerOrSupervisor, db: Db, privacy: Priv, now: Now
) -> Response:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    doc = svc.export_customer(db, customer_id=customer_id, actor=principal, privacy=privacy, now=now)
    return model_response(doc, headers={"Cache-Control": "no-store"})


@router.post(
    "/erasure-requests",
    status_code=201,
    response_model=ErasureRequestRead,
    summary="Erase personal data (pseudonymise); retained records stay under the customer id",
    description="The customer's own request is carried out at once. One a supervisor or admin makes is, under dual "
    "control (`PROFILE_DUAL_CONTROL_ERASURE`, on by default), 202 with a pending approval request, carried out when "
    "a supervisor or admin other than the maker approves it (`POST /v1/customers/approvals/{id}/approve`); 409 "
    "`approval_pending` while one waits.",
    responses={**problem_responses(401, 403, 404, 409, 422), 202: {"model": ApprovalRead, "description": "pending"}},
)
def request_erasure(
    customer_id: CustomerId,
    body: ErasureRequestCreate,
    principal: CustomerOrSupervisor,
    db: Db,
    privacy: Priv,
    book: Book,
    now: Now,
):
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    if principal.role != "customer" and book.controls(ERASE):
        row = request_erasure_approval(
            db,
            book,
            customer_id=customer_id,
            reason=body.reason,
            requested_via=body.requested_via,
            maker=principal,
            now=now,
        )
        return JSONResponse(present(ApprovalRead, row, now).model_dump(mode="json"), status_code=202)
    return svc.erase_customer(
        db,
        customer_id=customer_id,
        reason=body.reason,
        requested_via=body.requested_via,
        actor=principal,
        privacy=privacy,
        now=now,
    )


@router.get(
    "/erasure-requests",
    response_model=ErasureRequestList,
    summary="Who asked for erasure, when, what was erased and what is retained",
    responses=problem_responses(401, 403, 404, 422),
)
def list_erasure_requests(customer_id: CustomerId, _p: Supervisor, db: Db, privacy: Priv) -> ErasureRequestList:
    return ErasureRequestList(items=svc.list_erasure_requests(db, customer_id=customer_id, vault=privacy.vault))
