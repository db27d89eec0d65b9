"""Rule segments compiled once per (segment, version): events only execute the cached statements, a
new version takes effect at once, and time-dependent rules are evaluated at each event's time."""

from datetime import timedelta

from services.segmentation.service import context, segments
from services.segmentation.service.segment_refresh import RULES
from tests.segmentation.conftest import NOW


def members(feed, sid) -> set[str]:
    from sqlalchemy import select

    from services.segmentation.models import segment_member

    with feed.db.read() as s:
        return set(s.execute(select(segment_member.c.customer_id).where(segment_member.c.segment_id == sid)).scalars())


def test_events_reuse_the_compiled_rule(feed, settings, clock):
    ctx = context.Context(db=feed.db, settings=settings, clock=clock)
    seg = segments.create_segment(
        ctx, name="rich", description="", actor="t", rule={"field": "aum", "op": "gte", "value": "1000.00"}
    )
    misses = RULES.misses
    cid = feed.register()
    for aum in (100_000, 50, 200_000):
        feed.assets(cid, aum)
    assert RULES.misses - misses == 1  # one compile for the one-customer scope, then hits only
    assert members(feed, seg.id) == {cid}


def test_a_new_version_takes_effect_for_the_next_event(feed, settings, clock):
    ctx = context.Context(db=feed.db, settings=settings, clock=clock)
    seg = segments.create_segment(
        ctx, name="rich", description="", actor="t", rule={"field": "aum", "op": "gte", "value": "1000.00"}
    )
    cid = feed.register()
    feed.assets(cid, 200_000)  # 2,000.00: a member under version 1
    assert members(feed, seg.id) == {cid}
    segments.update_segment(
        ctx,
        segment_id=seg.id,
        expected_version=1,
        actor="t",
        changes={"rule": {"field": "aum", "op": "gte", "value": "5000.00"}},
    )
    assert members(feed, seg.id) == set()  # the update itself re-evaluates everyone
    other = feed.register()
    feed.assets(other, 300_000)  # 3,000.00: a member under version 1, not under version 2
    assert members(feed, seg.id) == set()
    feed.assets(other, 600_000)
    assert members(feed, seg.id) == {other}


def test_time_dependent_rules_are_evaluated_at_each_events_time(feed, settings, clock):
    ctx = context.Context(db=feed.db, settings=settings, clock=clock)
    seg = segments.create_segment(
        ctx, name="tenured", description="", actor="t", rule={"field": "tenure_days", "op": "gte", "value": 30}
    )
    cid = feed.register(at=NOW - timedelta(days=25))
    assert members(feed, seg.id) == set()
    clock.advance(days=6)  # tenure 31 days now; the cached statement must not keep the old cutoff
    feed.assets(cid, 100)
    assert members(feed, seg.id) == {cid}
