"""What a customer is offered: the surveys it may answer now. A survey is offered to a customer when
its latest version is published, it is open (opens_at <= now <= closes_at) and its audience takes
the customer: everyone, the customer's branch (as feedback knows it from profile's feed), or a
segment class the customer is in (from segmentation's feed). A customer feedback does not know yet
is offered the surveys for everyone only. Another branch's, a closed and a draft survey look absent."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.feedback.models import CustomerRef, CustomerSegment, Survey


def offered_to(s: Session, customer_id: str, now: datetime) -> ColumnElement[bool]:
    """The condition on Survey rows (latest published versions) that keeps those offered."""
    branch = s.execute(select(CustomerRef.branch_code).where(CustomerRef.customer_id == customer_id)).scalar()
    classes = [
        f"{scheme}:{cls}"
        for scheme, cls in s.execute(
            select(CustomerSegment.scheme, CustomerSegment.segment_class).where(
                CustomerSegment.customer_id == customer_id
            )
        ).all()
    ]
    audience: list[Any] = [Survey.audience_kind == "all"]
    audience.append(and_(Survey.audience_kind == "branch", Survey.audience_value == branch) if branch else false())
    if classes:
        audience.append(and_(Survey.audience_kind == "segment", col(Survey.audience_value).in_(classes)))
    return and_(Survey.state == "published", Survey.opens_at <= now, Survey.closes_at >= now, or_(*audience))
