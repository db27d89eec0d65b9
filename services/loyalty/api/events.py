"""Customer events: the catalogue (supervisor), registration (staff for a customer, or the customer
itself), cancellation, check-in on the day (staff)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.access import CustomerOrStaff, EveryoneLoyaltyRead, Staff, Supervisor
from services.common.auth import ensure_own_customer
from services.common.branch_scope import Reach, ensure_customer_in_reach
from services.common.branches import check_in_reach
from services.common.deps import Cursor, Db, Limit
from services.common.errors import problem_responses
from services.loyalty.api.deps import Classes, Pol, segments_checked
from services.loyalty.schemas.events import (
    CustomerEventCreate,
    CustomerEventDetail,
    CustomerEventPage,
    CustomerEventRead,
    RegistrationCreate,
    RegistrationRead,
)
from services.loyalty.schemas.fields import BranchCode, Instant
from services.loyalty.service import events

router = APIRouter(prefix="/v1/loyalty/customer-events", tags=["customer events"])
EventId = Annotated[uuid.UUID, "customer event id"]
CustomerId = Annotated[uuid.UUID, "customer id"]


@router.post(
    "",
    status_code=201,
    response_model=CustomerEventDetail,
    summary="Schedule a customer event (supervisor)",
    description=segments_checked("`target_segments`"),
    responses=problem_responses(401, 403, 422, 503),
)
def create_event(
    body: CustomerEventCreate,
    _p: Supervisor,
    db: Db,
    policy: Pol,
    classes: Classes,
    reach: Reach,
    response: Response,
) -> CustomerEventDetail:
    check_in_reach(body.branch_code, reach)
    event = events.create_event(db, fields=body.model_dump(), policy=policy, classes=classes)
    response.headers["Location"] = f"/v1/loyalty/customer-events/{event.id}"
    return CustomerEventDetail(**CustomerEventRead.model_validate(event).model_dump(), seats_taken=0)


@router.get(
    "",
    response_model=CustomerEventPage,
    summary="Customer events by start time, for a branch (a customer: those offered to it)",
    description="A customer sees the open events of its branch and the branches above it; staff and "
    "supervisors those of their subtree and the branches above theirs; admin and system every one.",
    responses=problem_responses(401, 403, 422),
)
def list_events(
    principal: EveryoneLoyaltyRead,
    db: Db,
    policy: Pol,
    branch_code: Annotated[BranchCode | None, Query()] = None,
    starts_after: Annotated[Instant | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CustomerEventPage:
    rows, next_cursor = events.list_events(
        db,
        branch_code=branch_code,
        starts_after=starts_after,
        limit=limit,
        cursor=cursor,
        principal=principal,
        now=policy.now(),
    )
    return CustomerEventPage(items=[CustomerEventRead.model_validate(e) for e in rows], next_cursor=next_cursor)


@router.get(
    "/{event_id}",
    response_model=CustomerEventDetail,
    summary="A customer event with seats taken",
    responses=problem_responses(401, 403, 404, 422),
)
def read_event(event_id: EventId, principal: EveryoneLoyaltyRead, db: Db, policy: Pol) -> CustomerEventDetail:
    event, seated = events.read_event(db, event_id=event_id, principal=principal, now=policy.now())
    return CustomerEventDetail(**CustomerEventRead.model_validate(event).model_dump(), seats_taken=seated)


@router.post(
    "/{event_id}/registrations",
    status_code=201,
    response_model=RegistrationRead,
    summary="Register a customer: a seat while there is one (points price charged), else the waitlist",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def register(
    event_id: EventId, body: RegistrationCreate, principal: CustomerOrStaff, db: Db, policy: Pol, request: Request
) -> RegistrationRead:
    ensure_own_customer(principal, body.customer_id, events.event_not_found(event_id))
    ensure_customer_in_reach(request, principal, body.customer_id)
    events.read_event(db, event_id=event_id, principal=principal, now=policy.now())  # 404 unless offered
    reg = events.register(db, event_id=event_id, customer_id=body.customer_id, policy=policy)
    return RegistrationRead.model_validate(reg)


@router.post(
    "/{event_id}/registrations/{customer_id}/cancel",
    response_model=RegistrationRead,
    summary="Cancel a registration: points back, the seat to the first on the waitlist",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def cancel(
    event_id: EventId, customer_id: CustomerId, principal: CustomerOrStaff, db: Db, policy: Pol
) -> RegistrationRead:
    ensure_own_customer(principal, customer_id, events.registration_not_found(event_id, customer_id))
    return RegistrationRead.model_validate(
        events.cancel_registration(db, event_id=event_id, customer_id=customer_id, policy=policy)
    )


@router.post(
    "/{event_id}/registrations/{customer_id}/check-in",
    response_model=RegistrationRead,
    summary="Check a customer in on the day (staff); attendance earns the event's points",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def check_in(event_id: EventId, customer_id: CustomerId, _p: Staff, db: Db, policy: Pol) -> RegistrationRead:
    return RegistrationRead.model_validate(
        events.check_in(db, event_id=event_id, customer_id=customer_id, policy=policy)
    )
