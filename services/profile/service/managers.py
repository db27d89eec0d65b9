"""Relationship managers: a staff member assigned to care for a customer. Assigning (or reassigning)
is one transaction with its customer.manager_assigned event, from which loyalty learns whose care tasks
a customer's reminders become."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.branches import ancestor_codes, check_in_reach
from services.common.db import Database
from services.common.errors import InvalidInput, NotFound
from services.profile.models import Customer, RelationshipManager, branch
from services.profile.schemas.managers import ManagerAssign, ManagerRead
from services.profile.service.events import record_events
from services.profile.service.guards import require_active_customer, require_customer_row


def _z(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def manager_not_assigned(customer_id: uuid.UUID) -> NotFound:
    return NotFound(f"Customer {customer_id} has no relationship manager", code="manager_not_assigned")


def _check_line(s: Session, customer_id: uuid.UUID, code: str, reach: set[str] | None) -> None:
    """The manager's branch lies on the customer's line (the customer's branch or an ancestor of it) and,
    for a branch-bound caller, within the caller's subtree; otherwise 422 naming manager_branch_code."""
    check_in_reach(code, reach, field="manager_branch_code")
    home = s.execute(select(Customer.branch_code).where(Customer.id == customer_id)).scalar_one()  # type: ignore[arg-type]
    if code != home and code not in ancestor_codes(s, branch, home):
        raise InvalidInput(
            [
                {
                    "loc": ["body", "manager_branch_code"],
                    "msg": f"the branch {code} is neither the customer's branch {home} nor above it",
                    "type": "manager_branch_off_line",
                }
            ]
        )


def assign_manager(
    db: Database,
    *,
    customer_id: uuid.UUID,
    assign_in: ManagerAssign,
    actor: Principal,
    reach: set[str] | None,
    now: datetime,
) -> tuple[ManagerRead, bool]:
    """Assigns or reassigns the customer's manager; (the assignment, whether it is the first). The same
    manager again changes nothing and records nothing; 409 customer_closed for a closed customer."""
    with db.write() as s:
        require_active_customer(s, customer_id)
        _check_line(s, customer_id, assign_in.manager_branch_code, reach)
        row = s.get(RelationshipManager, customer_id)
        created, previous = row is None, None if row is None else row.manager_id
        if row is None:
            row = RelationshipManager(
                customer_id=customer_id, assigned_by=actor.sub, assigned_at=now, **assign_in.model_dump()
            )
            s.add(row)
        elif (row.manager_id, row.manager_branch_code) == (assign_in.manager_id, assign_in.manager_branch_code):
            return ManagerRead.model_validate(row), False
        else:
            row.manager_id, row.manager_branch_code = assign_in.manager_id, assign_in.manager_branch_code
            row.assigned_by, row.assigned_at, row.version = actor.sub, now, row.version + 1
        s.flush()
        data = {
            "manager_id": row.manager_id,
            "manager_branch_code": row.manager_branch_code,
            "previous_manager_id": previous,
            "assigned_at": _z(now),
        }
        record_events(s, [("customer.manager_assigned", str(customer_id), data)], now)
        s.commit()
        return ManagerRead.model_validate(row), created


def get_manager(db: Database, *, customer_id: uuid.UUID) -> ManagerRead:
    with db.read() as s:
        require_customer_row(s, customer_id)
        row = s.get(RelationshipManager, customer_id)
        if row is None:
            raise manager_not_assigned(customer_id)
        return ManagerRead.model_validate(row)
