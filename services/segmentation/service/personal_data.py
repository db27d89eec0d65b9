"""Everything segmentation holds about one person, for the personal-data export: the features and
classes, rule-segment memberships, every class change, the daily activity sums, the stated needs and
the products held (copies of profile's), the products it recommends now, and who exported it before;
the export is written to the access log first. Reads of customer lists (members, contact targets) are
written there too, with the persons read and the purpose."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, select

from services.common.auth import Principal
from services.common.db import Database
from services.common.personal_data import AccessRecord, record_bulk_read, record_export
from services.segmentation.models import (
    audit_chain,
    customer_holding,
    daily_activity,
    membership_change,
    personal_data_access,
)
from services.segmentation.service.catalogue import Recommendation, recommend
from services.segmentation.service.context import cf
from services.segmentation.service.memberships import segments_of


@dataclass(frozen=True)
class Holdings:
    features: Row | None
    segments: Sequence[Row]
    history: Sequence[Row]
    activity: Sequence[Row]
    products_held: Sequence[Row]
    recommendations: list[Recommendation]
    access: list[AccessRecord]


def export_customer(db: Database, *, customer_id: uuid.UUID, actor: Principal, now: datetime) -> Holdings:
    """Oldest first; empty when segmentation has no features for the customer."""
    cid = str(customer_id)
    with db.write() as s:
        access = record_export(s, personal_data_access, customer_id=cid, actor=actor, now=now, chain=audit_chain)
        features = s.execute(select(cf).where(cf.c.customer_id == cid)).first()
        segments = segments_of(s, cid)
        mc, da = membership_change.c, daily_activity.c
        history = s.execute(select(membership_change).where(mc.customer_id == cid).order_by(mc.id)).all()
        activity = s.execute(select(daily_activity).where(da.customer_id == cid).order_by(da.day)).all()
        ch = customer_holding.c
        held = s.execute(select(customer_holding).where(ch.customer_id == cid).order_by(ch.holding_id)).all()
        s.commit()
    recs = recommend(db, customer_id=cid, now=now, features=features) if features is not None else []
    return Holdings(features, segments, history, activity, held, recs, access)


def record_list_read(db: Database, *, what: str, persons: int, purpose: str, actor: Principal, now: datetime) -> None:
    """One access-log row (and audit record) for one page of a list of customers (PIPL art. 6: who
    read how many persons, and why)."""
    with db.write() as s:
        record_bulk_read(
            s,
            personal_data_access,
            what=what,
            persons=persons,
            purpose=purpose,
            actor=actor,
            now=now,
            chain=audit_chain,
        )
        s.commit()
