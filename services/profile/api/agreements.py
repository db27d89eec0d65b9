"""Routes for service agreements."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Response

from services.common.access import CustomerOrStaff, EveryoneCustomersRead
from services.common.auth import ensure_own_customer
from services.common.deps import Cursor, Db, IdemKey, Limit, Now, replay
from services.common.errors import problem_responses
from services.common.idempotency import StoredResponse
from services.profile.api.deps import CustomerId, Priv, idempotency_for
from services.profile.schemas.agreements import AgreementPage, AgreementRead, AgreementRevoke, AgreementSign
from services.profile.service import agreements as svc
from services.profile.service.customers import customer_not_found

router = APIRouter(prefix="/v1/customers/{customer_id}/agreements", tags=["agreements"])
AgreementId = Annotated[uuid.UUID, "agreement id"]


@router.post(
    "",
    status_code=201,
    response_model=AgreementRead,
    summary="Sign an agreement (supersedes the same type); a customer signs only its own",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def sign_agreement(
    customer_id: CustomerId,
    body: AgreementSign,
    principal: CustomerOrStaff,
    db: Db,
    privacy: Priv,
    now: Now,
    response: Response,
    idempotency_key: IdemKey = None,
):
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    idem = idempotency_for(idempotency_key, principal, "sign_agreement", customer_id, body)
    a = svc.sign_agreement(
        db, customer_id=customer_id, sign_in=body, actor=principal, now=now, vault=privacy.vault, idem=idem
    )
    if isinstance(a, StoredResponse):
        return replay(a)
    response.headers["Location"] = f"/v1/customers/{customer_id}/agreements/{a.id}"
    return a


@router.get(
    "",
    response_model=AgreementPage,
    summary="The customer's agreements, newest first (active ones by default)",
    responses=problem_responses(401, 403, 404, 422),
)
def list_agreements(
    customer_id: CustomerId,
    principal: EveryoneCustomersRead,
    db: Db,
    privacy: Priv,
    now: Now,
    status: Literal["active", "all"] = "active",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AgreementPage:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    items, next_cursor = svc.list_agreements(
        db,
        customer_id=customer_id,
        active_only=status == "active",
        now=now,
        limit=limit,
        cursor=cursor,
        vault=privacy.vault,
    )
    return AgreementPage(items=items, next_cursor=next_cursor)


@router.post(
    "/{agreement_id}/revoke",
    response_model=AgreementRead,
    summary="Revoke an active agreement",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def revoke_agreement(
    customer_id: CustomerId,
    agreement_id: AgreementId,
    body: AgreementRevoke,
    principal: CustomerOrStaff,
    db: Db,
    privacy: Priv,
    now: Now,
) -> AgreementRead:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    return svc.revoke_agreement(
        db, customer_id=customer_id, agreement_id=agreement_id, reason=body.reason, now=now, vault=privacy.vault
    )
