"""A customer's features, current memberships and membership history."""

from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.pagination import id_key, newest_id_first, page_of
from services.segmentation.models import (
    membership_change,
    segment,
    segment_member,
)
from services.segmentation.service.context import cf, customer_not_found


def require_features(db: Database, *, customer_id: str) -> Row:
    row = db.first_row(select(cf).where(cf.c.customer_id == customer_id))
    if row is None:
        raise customer_not_found(customer_id)
    return row


def customer_segments(db: Database, *, customer_id: str) -> Sequence[Row]:
    with db.read() as s:
        return segments_of(s, customer_id)


def segments_of(s: Session, customer_id: str) -> Sequence[Row]:
    """The rule segments the customer is in (id, name, since), by name."""
    sm = segment_member.c
    return s.execute(
        select(segment.c.id, segment.c.name, sm.since)
        .join(segment, segment.c.id == sm.segment_id)
        .where(sm.customer_id == customer_id)
        .order_by(segment.c.name)
    ).all()


def list_history(db: Database, *, customer_id: str, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    require_features(db, customer_id=customer_id)
    mc = membership_change.c
    stmt = newest_id_first(select(membership_change).where(mc.customer_id == customer_id), mc.id, cursor, limit)
    with db.read() as s:
        rows = s.execute(stmt).all()
    return page_of(rows, limit, id_key)
