"""Checks every per-customer aggregate makes first: the customer exists, and for changes, is active."""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.db import table_of
from services.common.errors import Conflict
from services.profile.models import Customer
from services.profile.service.customers import customer_not_found

_C = table_of(Customer)


def require_customer_row(s: Session, customer_id: uuid.UUID, *, lock: bool = False):
    """(id, customer_no, type, status, erased_at) of the customer; 404 customer_not_found. `lock`
    holds the customer's row until commit, serialising that customer's writers on PostgreSQL."""
    stmt = select(_C.c.id, _C.c.customer_no, _C.c.type, _C.c.status, _C.c.erased_at).where(_C.c.id == customer_id)
    row = s.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise customer_not_found(customer_id)
    return row


def require_active_customer(s: Session, customer_id: uuid.UUID, *, lock: bool = True):
    """As require_customer_row (locked by default), and 409 customer_closed for a closed or erased one."""
    row = require_customer_row(s, customer_id, lock=lock)
    if row.status != "active":
        raise Conflict("A closed customer cannot be changed", code="customer_closed")
    return row
