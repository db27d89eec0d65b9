"""Routes for contact points, marketing consent, the do-not-contact flag and contactability."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from services.common.access import CustomerOrStaff, EveryoneCustomersRead, SystemOrAdminContactsDeliver
from services.common.auth import ensure_own_customer
from services.common.deps import Cursor, Db, IdemKey, Limit, Now, replay
from services.common.errors import NotFound, problem_responses
from services.common.idempotency import StoredResponse
from services.profile.api.deps import CustomerId, Priv, idempotency_for
from services.profile.schemas.consent import (
    ConsentChange,
    ConsentHistoryPage,
    ConsentRecordRead,
    ConsentState,
    Contactability,
    ContactCreate,
    ContactList,
    ContactRead,
    DeliveryAddress,
    DoNotContactChange,
    Purpose,
)
from services.profile.service import consent as svc
from services.profile.service.customers import customer_not_found

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["contacts and consent"])
ContactId = Annotated[uuid.UUID, "contact point id"]


def _own(principal, customer_id) -> None:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))


@router.post(
    "/contacts",
    status_code=201,
    response_model=ContactRead,
    summary="Add a contact point (validated by kind; stored encrypted, shown masked)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def add_contact(
    customer_id: CustomerId, body: ContactCreate, principal: CustomerOrStaff, db: Db, privacy: Priv, now: Now
) -> ContactRead:
    _own(principal, customer_id)
    return svc.add_contact(db, customer_id=customer_id, contact_in=body, privacy=privacy, now=now)


@router.get(
    "/contacts",
    response_model=ContactList,
    summary="The customer's contact points, preferred first",
    responses=problem_responses(401, 403, 404, 422),
)
def list_contacts(customer_id: CustomerId, principal: EveryoneCustomersRead, db: Db, privacy: Priv) -> ContactList:
    _own(principal, customer_id)
    return ContactList(items=svc.list_contacts(db, customer_id=customer_id, privacy=privacy))


@router.post(
    "/contacts/{contact_id}/preferred",
    response_model=ContactRead,
    summary="Make a contact point the preferred one",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def prefer_contact(
    customer_id: CustomerId, contact_id: ContactId, principal: CustomerOrStaff, db: Db, privacy: Priv
) -> ContactRead:
    _own(principal, customer_id)
    return svc.prefer_contact(db, customer_id=customer_id, contact_id=contact_id, privacy=privacy)


@router.delete(
    "/contacts/{contact_id}",
    status_code=204,
    summary="Remove a contact point",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def remove_contact(
    customer_id: CustomerId, contact_id: ContactId, principal: CustomerOrStaff, db: Db, privacy: Priv, now: Now
) -> Response:
    _own(principal, customer_id)
    svc.remove_contact(db, customer_id=customer_id, contact_id=contact_id, privacy=privacy, now=now)
    return Response(status_code=204)


@router.post(
    "/consents",
    status_code=201,
    response_model=ConsentRecordRead,
    summary="Grant or withdraw marketing consent for one channel (history kept)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def change_consent(
    customer_id: CustomerId,
    body: ConsentChange,
    principal: CustomerOrStaff,
    db: Db,
    privacy: Priv,
    now: Now,
    idempotency_key: IdemKey = None,
):
    _own(principal, customer_id)
    idem = idempotency_for(idempotency_key, principal, "change_consent", customer_id, body)
    result = svc.change_consent(
        db, customer_id=customer_id, change=body, actor=principal, privacy=privacy, now=now, idem=idem
    )
    return replay(result) if isinstance(result, StoredResponse) else result


@router.get(
    "/consents",
    response_model=ConsentState,
    summary="Current marketing consent per channel and the do-not-contact flag",
    responses=problem_responses(401, 403, 404, 422),
)
def read_consents(customer_id: CustomerId, principal: EveryoneCustomersRead, db: Db) -> ConsentState:
    _own(principal, customer_id)
    return svc.read_consents(db, customer_id=customer_id)


@router.get(
    "/consents/history",
    response_model=ConsentHistoryPage,
    summary="Every consent change, newest first",
    responses=problem_responses(401, 403, 404, 422),
)
def consent_history(
    customer_id: CustomerId, principal: EveryoneCustomersRead, db: Db, limit: Limit = 50, cursor: Cursor = None
) -> ConsentHistoryPage:
    _own(principal, customer_id)
    items, next_cursor = svc.consent_history(db, customer_id=customer_id, limit=limit, cursor=cursor)
    return ConsentHistoryPage(items=items, next_cursor=next_cursor)


@router.put(
    "/do-not-contact",
    response_model=ConsentState,
    summary="Set or clear the do-not-contact flag (overrides every consent)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def set_do_not_contact(
    customer_id: CustomerId, body: DoNotContactChange, principal: CustomerOrStaff, db: Db, privacy: Priv, now: Now
) -> ConsentState:
    _own(principal, customer_id)
    return svc.set_do_not_contact(
        db,
        customer_id=customer_id,
        do_not_contact=body.do_not_contact,
        reason=body.reason,
        actor=principal,
        privacy=privacy,
        now=now,
    )


@router.get(
    "/contactability",
    response_model=Contactability,
    summary="Which channels may be used right now for a purpose, and why not for the others",
    responses=problem_responses(401, 403, 404, 422),
)
def read_contactability(
    customer_id: CustomerId, principal: EveryoneCustomersRead, db: Db, privacy: Priv, purpose: Purpose = "marketing"
) -> Contactability:
    _own(principal, customer_id)
    return svc.contactability(db, customer_id=customer_id, privacy=privacy)


@router.get(
    "/delivery-address",
    response_model=DeliveryAddress,
    summary="The number or address a message goes to now (a sending service's system token, contacts:deliver)",
    description="For loyalty's delivery worker: the preferred mobile (sms) or email contact point, else the newest, "
    "else the customer's own phone or email, unmasked. Every answer is on the customer's access log. 404 "
    "`contact_not_found` when the customer has none; `customer_not_found` when unknown or not active.",
    responses=problem_responses(401, 403, 404, 422),
)
def read_delivery_address(
    customer_id: CustomerId,
    principal: SystemOrAdminContactsDeliver,
    db: Db,
    privacy: Priv,
    now: Now,
    channel: Annotated[Literal["sms", "email"], Query()],
) -> DeliveryAddress:
    address = svc.delivery_address(
        db, customer_id=customer_id, channel=channel, actor=principal, privacy=privacy, now=now
    )
    if address is None:
        raise NotFound(f"The customer has no {channel} contact", code="contact_not_found")
    return DeliveryAddress(customer_id=customer_id, channel=channel, address=address)
