"""Points accounts: enrol, read, statement, expiring points, staff adjustments, redemptions and event
registrations of one customer."""

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from services.common.access import EveryoneLoyaltyRead, Staff
from services.common.approvals_api import Book
from services.common.auth import ensure_own_customer
from services.common.branch_scope import ensure_customer_in_reach
from services.common.deps import Cursor, Db, From, IdemKey, Limit, To, replay
from services.common.errors import InvalidInput, problem_responses
from services.common.idempotency import StoredResponse, idempotency_request
from services.loyalty.api.approvals import present_approval
from services.loyalty.api.deps import Pol, entry_body, present_account, present_entry, present_registration
from services.loyalty.models import LedgerEntry
from services.loyalty.schemas.accounts import (
    AccountCreate,
    AccountRead,
    AdjustmentCreate,
    EntryRead,
    ExpiringLot,
    ExpiringRead,
    StatementPage,
)
from services.loyalty.schemas.approvals import ApprovalRead
from services.loyalty.schemas.events import CustomerRegistrationList
from services.loyalty.schemas.rewards import RedemptionPage, RedemptionRead
from services.loyalty.service import accounts, adjustments, events, rewards
from services.loyalty.service.ledger import account_not_found

router = APIRouter(prefix="/v1/loyalty/accounts", tags=["accounts"])
CustomerId = Annotated[uuid.UUID, "customer id"]
WITHIN = re.compile(r"^([1-9]\d{0,2})d$")


@router.post(
    "",
    status_code=201,
    response_model=AccountRead,
    summary="Enrol a customer (staff)",
    responses=problem_responses(401, 403, 409, 422),
)
def enrol(
    body: AccountCreate, principal: Staff, db: Db, policy: Pol, request: Request, response: Response
) -> AccountRead:
    ensure_customer_in_reach(request, principal, body.customer_id)
    account = accounts.enrol_customer(db, customer_id=body.customer_id, policy=policy)
    response.headers["Location"] = f"/v1/loyalty/accounts/{account.customer_id}"
    return present_account(account, policy)


@router.get(
    "/{customer_id}",
    response_model=AccountRead,
    summary="A customer's points account",
    responses=problem_responses(401, 403, 404, 422),
)
def read_account(customer_id: CustomerId, principal: EveryoneLoyaltyRead, db: Db, policy: Pol) -> AccountRead:
    ensure_own_customer(principal, customer_id, account_not_found(customer_id))
    return present_account(accounts.read_account(db, customer_id=customer_id), policy)


@router.get(
    "/{customer_id}/statement",
    response_model=StatementPage,
    summary="Ledger entries, newest first, each with the balance after it; ?from=&to= bound occurred_at",
    responses=problem_responses(401, 403, 404, 422),
)
def read_statement(
    customer_id: CustomerId,
    principal: EveryoneLoyaltyRead,
    db: Db,
    policy: Pol,
    occurred_from: From = None,
    occurred_to: To = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StatementPage:
    ensure_own_customer(principal, customer_id, account_not_found(customer_id))
    window = accounts.Window(occurred_from, occurred_to)
    rows, next_cursor = accounts.statement(db, customer_id=customer_id, window=window, limit=limit, cursor=cursor)
    return StatementPage(items=[present_entry(e, policy) for e in rows], next_cursor=next_cursor)


@router.get(
    "/{customer_id}/expiring",
    response_model=ExpiringRead,
    summary="Points that expire within a period (oldest first)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_expiring(
    customer_id: CustomerId,
    principal: EveryoneLoyaltyRead,
    db: Db,
    policy: Pol,
    within: Annotated[str, Query(max_length=5, description="days, e.g. 30d (1d-999d)")] = "30d",
) -> ExpiringRead:
    ensure_own_customer(principal, customer_id, account_not_found(customer_id))
    match = WITHIN.match(within)
    if match is None:
        raise InvalidInput([{"loc": ["query", "within"], "msg": "days as <n>d, 1d to 999d", "type": "value_error"}])
    result = accounts.expiring(db, customer_id=customer_id, within_days=int(match[1]), policy=policy)
    return ExpiringRead(
        customer_id=customer_id,
        as_of=result.as_of,
        until=result.until,
        total=result.total,
        lots=[
            ExpiringLot(entry_id=lot.id, points=lot.points, remaining=lot.remaining, expires_at=lot.expires_at)
            for lot in result.lots
        ],
    )


@router.post(
    "/{customer_id}/adjustments",
    status_code=201,
    response_model=EntryRead,
    summary="Adjust points with a reason; large ones wait for a second person (Idempotency-Key honoured)",
    description="An adjustment beyond `LOYALTY_STAFF_ADJUST_LIMIT` points either way, or one that takes the "
    "maker's adjustments today beyond `LOYALTY_ADJUST_DAILY_CAP`, is not posted: the answer is 202 with the "
    "pending approval request, which a supervisor or admin other than the maker approves "
    "(`POST /v1/loyalty/approvals/{id}/approve`). 409 `approval_pending` while one is pending for the account.",
    responses={**problem_responses(401, 403, 404, 409, 422), 202: {"model": ApprovalRead, "description": "pending"}},
)
def adjust(
    customer_id: CustomerId,
    body: AdjustmentCreate,
    principal: Staff,
    db: Db,
    policy: Pol,
    book: Book,
    idempotency_key: IdemKey = None,
):
    idem = idempotency_request(
        idempotency_key, caller=principal.sub, operation=f"adjust:{customer_id}", body=body.model_dump(mode="json")
    )
    result = adjustments.adjust_points(
        db,
        customer_id=customer_id,
        points=body.points,
        reason=body.reason,
        actor=principal,
        idem=idem,
        present=entry_body(policy),
        present_pending=lambda row: present_approval(row, policy.now()).model_dump(mode="json"),
        policy=policy,
        book=book,
    )
    if isinstance(result, StoredResponse):
        return replay(result)
    if isinstance(result, LedgerEntry):
        return present_entry(result, policy)
    return JSONResponse(present_approval(result, policy.now()).model_dump(mode="json"), status_code=202)


@router.get(
    "/{customer_id}/redemptions",
    response_model=RedemptionPage,
    summary="A customer's redemptions",
    responses=problem_responses(401, 403, 404, 422),
)
def list_redemptions(
    customer_id: CustomerId, principal: EveryoneLoyaltyRead, db: Db, limit: Limit = 50, cursor: Cursor = None
) -> RedemptionPage:
    ensure_own_customer(principal, customer_id, account_not_found(customer_id))
    accounts.read_account(db, customer_id=customer_id)
    rows, next_cursor = rewards.list_redemptions(db, customer_id=customer_id, limit=limit, cursor=cursor)
    return RedemptionPage(items=[RedemptionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{customer_id}/event-registrations",
    response_model=CustomerRegistrationList,
    summary="The customer events a customer is registered for or waitlisted on",
    responses=problem_responses(401, 403, 422),
)
def list_registrations(customer_id: CustomerId, principal: EveryoneLoyaltyRead, db: Db) -> CustomerRegistrationList:
    ensure_own_customer(principal, customer_id, account_not_found(customer_id))
    rows = events.list_registrations(db, customer_id=customer_id)
    return CustomerRegistrationList(items=[present_registration(r, e) for r, e in rows])
