"""Branch scope in feedback: a customer's branch is the copy of profile's customer events
(customer_ref); a customer feedback has not heard of from profile yet belongs to the branch its
latest complaint was filed at, else to none (out of every staff member's reach, 404, until the feed
brings it). A complaint, a follow-up or an improvement action carries its own branch, and lists,
reports and analyses are filtered by it (services.common.branch_scope.in_reach)."""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.feedback.models import Complaint, CustomerRef


def customer_branch(s: Session, customer_id: uuid.UUID) -> str | None:
    """The customer's branch code as feedback knows it (None: not known)."""
    known = s.execute(select(CustomerRef.branch_code).where(CustomerRef.customer_id == str(customer_id))).scalar()
    if known is not None:
        return str(known)
    latest = (
        select(Complaint.branch_code)
        .where(Complaint.customer_id == str(customer_id))
        .order_by(col(Complaint.received_at).desc())
        .limit(1)
    )
    return s.execute(latest).scalar()
