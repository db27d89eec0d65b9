"""Routes for a customer's relationship manager: read, assign and reassign (scoped by branch)."""

from fastapi import APIRouter, Response

from services.common.access import Staff
from services.common.branch_scope import Reach
from services.common.deps import Db, Now
from services.common.errors import problem_responses
from services.profile.api.deps import CustomerId
from services.profile.schemas.managers import ManagerAssign, ManagerRead
from services.profile.service import managers as svc

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["relationship managers"])


@router.put(
    "/manager",
    response_model=ManagerRead,
    summary="Assign or reassign the customer's relationship manager (first assignment: 201)",
    responses={
        201: {"model": ManagerRead, "description": "the customer's first manager"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def assign_manager(
    customer_id: CustomerId, body: ManagerAssign, principal: Staff, reach: Reach, db: Db, now: Now, response: Response
) -> ManagerRead:
    """Staff and supervisors assign within their branch's subtree (the customer out of it: 404; the
    manager's branch out of it: 422); the manager's branch must be the customer's branch or one above it
    (422 `manager_branch_off_line`). Records customer.manager_assigned."""
    manager, created = svc.assign_manager(
        db, customer_id=customer_id, assign_in=body, actor=principal, reach=reach, now=now
    )
    if created:
        response.status_code = 201
    return manager


@router.get(
    "/manager",
    response_model=ManagerRead,
    summary="The customer's relationship manager (404 manager_not_assigned before any)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_manager(customer_id: CustomerId, _p: Staff, db: Db) -> ManagerRead:
    return svc.get_manager(db, customer_id=customer_id)
