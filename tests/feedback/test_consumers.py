"""The customer read model from profile's feed and segment classes from segmentation's, applied
exactly once through the kit's FeedConsumer."""

import uuid

from sqlalchemy import select

from services.common.consumer import FeedConsumer
from services.feedback.consumers import profile_handlers, segmentation_handlers
from services.feedback.models import CustomerRef, CustomerSegment, consumer_cursor
from tests.feedback import factories as f


def _consumer(db, name, handlers) -> FeedConsumer:
    return FeedConsumer(
        name=name, db=db, cursor_table=consumer_cursor, handlers=handlers, client=None, feed_url="", token=lambda: ""
    )


def _refs(db) -> dict[str, tuple]:
    with db.read() as s:
        rows = s.execute(select(CustomerRef)).scalars().all()
    return {r.customer_id: (r.customer_type, r.region_type, r.branch_code, r.status) for r in rows}


def test_profile_events_build_the_customer_read_model(feedback_db):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    c = _consumer(feedback_db, "profile", profile_handlers())
    events = [
        f.event(
            "customer.registered",
            a,
            customer_no="100000000016",
            type="individual",
            region_type="urban",
            province="北京",
            city="北京",
            branch_code="BJ0001",
            status="active",
        ),
        f.event(
            "customer.registered",
            b,
            customer_no="100000000024",
            type="enterprise",
            region_type="rural",
            province="河北",
            city="保定",
            branch_code="HB0001",
            status="active",
        ),
        f.event(
            "customer.updated",
            a,
            customer_no="100000000016",
            changed=["branch_code", "city"],
            branch_code="TJ0001",
            city="天津",
        ),
        f.event("customer.closed", b, customer_no="100000000024", reason="moved"),
        f.event("consent.changed", a, channel="sms"),
    ]
    assert c.apply(events) == 5
    assert _refs(feedback_db) == {
        a: ("individual", "urban", "TJ0001", "active"),
        b: ("enterprise", "rural", "HB0001", "closed"),
    }
    assert c.apply(events) == 0  # already applied: exactly once
    c.apply([f.event("customer.erased", a, customer_no="100000000016", erased_at="2026-03-02T00:00:00Z")])
    assert set(_refs(feedback_db)) == {b}


def test_segment_changed_keeps_the_current_class_per_scheme(feedback_db):
    a = str(uuid.uuid4())
    c = _consumer(feedback_db, "segmentation", segmentation_handlers())
    c.apply(
        [
            f.event("segment.changed", a, scheme="asset_size", from_class=None, to_class="silver"),
            f.event("segment.changed", a, scheme="asset_size", from_class="silver", to_class="gold"),
            f.event("segment.changed", a, scheme="rule:abc", from_class=None, to_class="member"),
            f.event("segment.changed", a, scheme="rule:abc", from_class="member", to_class=None),
        ]
    )
    with feedback_db.read() as s:
        rows = s.execute(select(CustomerSegment)).scalars().all()
    assert [(r.scheme, r.segment_class) for r in rows] == [("asset_size", "gold")]
