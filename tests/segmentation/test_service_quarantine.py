"""Malformed events from another service's feed are set aside (event_quarantine, a counter) and the
cursor moves on; a transient database error is not skipped: the batch fails and is retried."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc, insert, select

from services.common.consumer import FeedConsumer
from services.common.outbox import Event
from services.segmentation.app import create_app
from services.segmentation.models import consumer_cursor, customer_feature, event_quarantine
from services.segmentation.service.quarantine import guarded
from tests.segmentation.conftest import NOW, segmentation_settings
from tests.segmentation.factories import owner_of


def quarantine(feed) -> list:
    with feed.db.read() as s:
        return s.execute(select(event_quarantine).order_by(event_quarantine.c.id)).all()


@pytest.mark.parametrize(
    ("type_", "data", "field"),
    [
        ("assets.updated", {"as_of_date": "2026-11-28", "aum_fen": "lots"}, "aum_fen"),
        ("assets.updated", {"aum_fen": 5}, "as_of_date"),
        ("risk_assessment.completed", {"level": "C9", "expires_at": "2027-11-28T00:00:00Z"}, "level"),
        ("risk_assessment.completed", {"level": "C2", "expires_at": "2027-11-28T00:00:00"}, "expires_at"),  # no zone
        (
            "transaction.recorded",
            {"kind": "deposit", "customer_initiated": True, "occurred_at": "2026-11-28T00:00:00Z"},
            "amount_fen",
        ),
        (
            "transaction.recorded",
            {"kind": "deposit", "customer_initiated": "yes", "amount_fen": 1},
            "customer_initiated",
        ),
        ("customer.registered", {"region_type": "urban"}, "type"),
        ("survey.responded", {"nps": 11}, "nps"),
    ],
)
def test_malformed_events_are_set_aside_with_the_reason(feed, type_, data, field):
    cid = feed.register()
    before = feed.features(cid)
    e = feed.send(type_, cid, data)
    rows, source = quarantine(feed), owner_of(type_)
    assert [(r.feed, r.position, r.event_id, r.type, r.subject_id) for r in rows] == [
        (source, e.position, e.event_id, type_, cid)
    ]
    assert field in rows[0].error and rows[0].data == data
    assert feed.consumers[source].position() == e.position
    assert feed.features(cid)._mapping == before._mapping
    assert feed.quarantined == [(source, type_)]


def test_events_after_a_malformed_one_still_apply(feed):
    cid = feed.register()
    feed.send("assets.updated", cid, {"as_of_date": "yesterday", "aum_fen": 1})
    feed.assets(cid, 600_000_000)
    assert feed.features(cid).class_asset_size == "major"
    assert len(quarantine(feed)) == 1


def test_a_bad_subject_is_set_aside(feed):
    e = feed.send("customer.closed", "x" * 80, {})
    assert quarantine(feed)[0].position == e.position and "subject_id" in quarantine(feed)[0].error


def consumer(feed, handler) -> FeedConsumer:
    return FeedConsumer(
        name="test",
        db=feed.db,
        cursor_table=consumer_cursor,
        handlers={"thing.happened": guarded("test", handler, feed.clock)},
        client=None,
        feed_url="",
        token=lambda: "",
    )


def event(position: int, subject: str) -> Event:
    return Event(
        position=position,
        event_id=str(uuid.uuid4()),
        type="thing.happened",
        occurred_at=NOW,
        subject_id=subject,
        data={},
    )


def write_then(error: Exception):
    def handler(s, e):
        s.execute(insert(customer_feature).values(customer_id=e.subject_id, updated_at=NOW))
        raise error

    return handler


def test_a_handler_failing_on_the_event_rolls_back_only_that_event(feed):
    c = consumer(feed, write_then(ValueError("bad value")))
    assert c.apply([event(1, "a"), event(2, "b")]) == 2
    assert feed.count(customer_feature) == 0  # each event's partial work was rolled back to its savepoint
    assert [(r.position, r.error) for r in quarantine(feed)] == [
        (1, "ValueError while applying the event"),
        (2, "ValueError while applying the event"),
    ]
    assert c.position() == 2


@pytest.mark.parametrize(
    "error",
    [
        exc.OperationalError("UPDATE ...", {}, Exception("database is locked")),
        exc.InterfaceError("SELECT 1", {}, Exception("connection closed")),
        RuntimeError("anything unexpected"),
    ],
)
def test_a_transient_error_is_not_skipped_and_the_batch_is_retried(feed, error):
    failing = consumer(feed, write_then(error))
    with pytest.raises(type(error)):
        failing.apply([event(1, "a")])
    assert failing.position() == 0 and quarantine(feed) == [] and feed.count(customer_feature) == 0

    def fixed(s, e):
        s.execute(insert(customer_feature).values(customer_id=e.subject_id, updated_at=NOW))

    assert consumer(feed, fixed).apply([event(1, "a")]) == 1  # the retry applies it
    assert feed.count(customer_feature) == 1 and quarantine(feed) == []


def test_erasure_drops_the_customers_quarantined_events(feed):
    cid = feed.register()
    feed.send("assets.updated", cid, {"aum_fen": 1})
    feed.send("customer.erased", cid, {"customer_no": "1", "erased_at": NOW.isoformat()})
    assert quarantine(feed) == []


def test_quarantined_events_are_counted_in_metrics(seg_db, clock):
    app = create_app(
        segmentation_settings(seg_db.url, profile_feed_url="http://127.0.0.1:9/v1/events"), db=seg_db, clock=clock
    )
    bad = Event(
        position=1,
        event_id=str(uuid.uuid4()),
        type="assets.updated",
        occurred_at=NOW,
        subject_id=str(uuid.uuid4()),
        data={"aum_fen": 1},
    )
    assert app.state.consumers["profile"].apply([bad]) == 1
    text = TestClient(app).get("/metrics").text  # no lifespan: the poll loop never starts
    assert 'segmentation_events_quarantined_total{feed="profile",type="assets.updated"} 1.0' in text


def test_an_item_with_a_malformed_envelope_is_quarantined_and_counted(seg_db, clock):
    """The app's consumers pass FeedConsumer the quarantine hook: a page item that is not an event at all
    (no event_id, a date that is not one) is kept with what could be read; the metric's type label is
    the item's type only when the feed knows it."""
    import httpx

    from services.common.consumer import parse_page

    cid = str(uuid.uuid4())
    items = [
        {
            "position": 1,
            "type": "assets.updated",
            "occurred_at": "not a date",
            "subject_id": cid,
            "data": {"aum_fen": 1, "as_of_date": "2026-11-28"},
        },
        {
            "position": 2,
            "event_id": 7,
            "type": "x" * 300,
            "occurred_at": NOW.isoformat(),
            "subject_id": None,
            "data": [],
        },
    ]
    page = {"items": items, "last_position": 2, "head_position": 2}
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=page)))
    app = create_app(
        segmentation_settings(seg_db.url, profile_feed_url="http://feed.test/v1/events"), db=seg_db, clock=clock
    )
    consumer = app.state.consumers["profile"]
    consumer.client = client
    assert len(parse_page(page).malformed) == 2
    assert consumer.poll_once() == 2
    with seg_db.read() as s:
        rows = s.execute(select(event_quarantine).order_by(event_quarantine.c.position)).all()
    assert [(r.feed, r.position, r.event_id, r.type, r.subject_id) for r in rows] == [
        ("profile", 1, None, "assets.updated", cid),
        ("profile", 2, "7", "x" * 100, None),
    ]
    assert rows[0].error.startswith("envelope: ") and "event_id" in rows[0].error and "occurred_at" in rows[0].error
    assert rows[0].data == items[0]["data"] and rows[1].data is None
    assert consumer.position() == 2
    text = TestClient(app).get("/metrics").text
    assert 'segmentation_events_quarantined_total{feed="profile",type="assets.updated"} 1.0' in text
    assert 'segmentation_events_quarantined_total{feed="profile",type="unknown"} 1.0' in text
