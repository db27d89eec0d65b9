"""Routes for a customer's stated needs and the products they hold."""

from typing import Literal

from fastapi import APIRouter, Response

from services.common.access import CustomerOrStaff, EveryoneCustomersRead, SystemOrAdminTransactionsWrite
from services.common.auth import ensure_own_customer
from services.common.deps import Db, Now
from services.common.errors import problem_responses
from services.profile.api.deps import CustomerId
from services.profile.schemas.needs import HoldingIn, HoldingList, HoldingRead, HoldingRef, NeedsIn, NeedsRead
from services.profile.service import needs as svc
from services.profile.service.customers import customer_not_found

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["needs and holdings"])


@router.put(
    "/needs",
    response_model=NeedsRead,
    summary="State the customer's needs: purpose, horizon, liquidity (a customer states its own)",
    responses={
        201: {"model": NeedsRead, "description": "stated for the first time"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def state_needs(
    customer_id: CustomerId, body: NeedsIn, principal: CustomerOrStaff, db: Db, now: Now, response: Response
) -> NeedsRead:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    needs, created = svc.state_needs(db, customer_id=customer_id, needs_in=body, actor=principal, now=now)
    if created:
        response.status_code = 201
    return needs


@router.get(
    "/needs",
    response_model=NeedsRead,
    summary="The customer's stated needs (404 needs_not_stated before any)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_needs(customer_id: CustomerId, principal: EveryoneCustomersRead, db: Db) -> NeedsRead:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    return svc.get_needs(db, customer_id=customer_id)


@router.get(
    "/holdings",
    response_model=HoldingList,
    summary="The products the customer holds (status=all: closed ones too)",
    responses=problem_responses(401, 403, 404, 422),
)
def list_holdings(
    customer_id: CustomerId, principal: EveryoneCustomersRead, db: Db, status: Literal["held", "all"] = "held"
) -> HoldingList:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    return svc.list_holdings(db, customer_id=customer_id, held_only=status == "held")


@router.put(
    "/holdings/{holding_ref}",
    response_model=HoldingRead,
    summary="Core banking reports a holding under its own reference: created (201) or replaced (200)",
    responses={
        201: {"model": HoldingRead, "description": "a new holding"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def put_holding(
    customer_id: CustomerId,
    holding_ref: HoldingRef,
    body: HoldingIn,
    _p: SystemOrAdminTransactionsWrite,
    db: Db,
    now: Now,
    response: Response,
) -> HoldingRead:
    holding, created = svc.put_holding(db, customer_id=customer_id, holding_ref=holding_ref, holding_in=body, now=now)
    if created:
        response.status_code = 201
    return holding
