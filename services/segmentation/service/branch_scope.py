"""Branch scope in segmentation: a customer's branch is its feature row's `branch_code`, copied from
profile's customer events; a customer segmentation has not heard of from profile yet has none, so it
is out of every staff member's reach (404) until the feed brings it."""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.segmentation.models import customer_feature


def customer_branch(s: Session, customer_id: uuid.UUID) -> str | None:
    """The customer's branch code as segmentation knows it (None: not known)."""
    stmt = select(customer_feature.c.branch_code).where(customer_feature.c.customer_id == str(customer_id))
    return s.execute(stmt).scalar()
