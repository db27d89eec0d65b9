"""A feed item whose envelope is malformed is set aside in the batch's transaction, so it neither
stalls the feed nor is lost; a page the cursor cannot safely move through is still retried."""

import json
import logging

import httpx
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from services.common.consumer import FeedConsumer, UnreadablePage
from tests.common.test_consumer import _applied, _setup

DROP = object()


def _item(position, **changes) -> dict:
    item = {
        "position": position,
        "event_id": f"e{position}",
        "type": "thing.happened",
        "occurred_at": "2026-11-28T10:00:00Z",
        "subject_id": "s1",
        "data": {"amount_fen": 100},
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not DROP}


def _page(*items, head: int | None = None) -> dict:
    last = max((i["position"] for i in items if isinstance(i, dict) and isinstance(i.get("position"), int)), default=0)
    return {"items": list(items), "last_position": last, "head_position": last if head is None else head}


class Feed:
    """Serves the same body on every poll, whatever `after` is: a replay, as a restarted or competing
    replica sees it; records what the consumer did, in order."""

    def __init__(self, db, body):
        self.db, self.calls = db, []
        self.cursor, self.applied = _setup(db)
        self.aside = Table("aside", MetaData(), Column("position", Integer, primary_key=True), Column("error", String))
        self.aside.create(db.engine)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.client = httpx.Client(
            transport=httpx.MockTransport(lambda _: httpx.Response(200, content=content)), base_url="http://feed"
        )

    def handle(self, s, event) -> None:
        self.calls.append(("applied", event.position))
        s.execute(insert(self.applied).values(position=event.position, subject=event.subject_id))

    def hook(self, s, name, item, error) -> None:
        self.calls.append(("set_aside", name, item, error))
        s.execute(insert(self.aside).values(position=item["position"], error=error))

    def consumer(self, set_aside="hook", cls=FeedConsumer) -> FeedConsumer:
        return cls(
            name="test",
            db=self.db,
            cursor_table=self.cursor,
            handlers={"thing.happened": self.handle},
            client=self.client,
            feed_url="/v1/events",
            token=lambda: "",
            set_aside=self.hook if set_aside == "hook" else set_aside,
        )

    def aside_rows(self) -> list[tuple]:
        with self.db.read() as s:
            return [tuple(r) for r in s.execute(select(self.aside).order_by(self.aside.c.position))]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": DROP}, "event_id"),
        ({"occurred_at": "next tuesday"}, "occurred_at"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"subject_id": None}, "subject_id"),
    ],
)
def test_poll_malformed_envelope_between_good_events_sets_it_aside_and_moves_past_it(fresh_db, change, field):
    bad = _item(2, **change)
    feed = Feed(fresh_db, _page(_item(1), bad, _item(3)))
    c = feed.consumer()
    assert c.poll_once() == 3
    assert [call[:2] for call in feed.calls] == [("applied", 1), ("set_aside", "test"), ("applied", 3)]  # feed order
    _, name, item, error = feed.calls[1]
    assert item == bad and error.startswith(f"{field}: ")
    assert feed.aside_rows() == [(2, error)]  # the hook wrote in the batch's transaction, which committed
    assert _applied(fresh_db, feed.applied) == [1, 3]
    assert c.position() == 3 and c.set_aside_count == 1


def test_poll_replayed_page_after_success_applies_and_sets_aside_nothing_twice(fresh_db):
    feed = Feed(fresh_db, _page(_item(1), _item(2, event_id=DROP), _item(3)))
    assert feed.consumer().poll_once() == 3
    replica = feed.consumer()
    assert replica.poll_once() == 0 and replica.apply(replica.fetch(0)) == 0
    assert len(feed.calls) == 3 and replica.set_aside_count == 0
    assert _applied(fresh_db, feed.applied) == [1, 3] and [r[0] for r in feed.aside_rows()] == [2]


@pytest.mark.parametrize(
    "bad",
    [
        _item(DROP, event_id=DROP),
        _item("two", event_id=DROP),
        _item(2.5, event_id=DROP),
        _item(None),
        "not an object",
        _item(99, event_id=DROP),  # beyond the head (3): the cursor would jump over events not yet written
    ],
    ids=["missing", "text", "fraction", "null", "not-an-object", "beyond-head"],
)
def test_poll_malformed_item_without_usable_position_raises_and_the_cursor_stays(fresh_db, bad):
    feed = Feed(fresh_db, _page(_item(1), bad, _item(3), head=3))
    c = feed.consumer()
    with pytest.raises(UnreadablePage):
        c.poll_once()
    assert feed.calls == [] and _applied(fresh_db, feed.applied) == [] and c.position() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<html>bad gateway</html>",
        b"[]",
        b'{"items": "none", "last_position": 0, "head_position": 0}',
        b'{"items": [], "last_position": 0}',
    ],
    ids=["not-json", "not-an-object", "items-not-a-list", "no-head"],
)
def test_poll_body_that_is_not_a_page_raises_and_the_cursor_stays(fresh_db, body):
    feed = Feed(fresh_db, body)
    c = feed.consumer()
    with pytest.raises(ValueError):  # json's and pydantic's errors are both ValueErrors
        c.poll_once()
    assert c.position() == 0 and c.set_aside_count == 0


def test_poll_hook_raising_rolls_the_whole_batch_back(fresh_db):
    feed = Feed(fresh_db, _page(_item(1), _item(2, data="x"), _item(3)))

    def failing(s, name, item, error) -> None:
        feed.hook(s, name, item, error)
        raise RuntimeError("quarantine table missing")

    c = feed.consumer(set_aside=failing)
    with pytest.raises(RuntimeError):
        c.poll_once()
    assert _applied(fresh_db, feed.applied) == [] and feed.aside_rows() == []
    assert c.position() == 0 and c.set_aside_count == 0
    assert feed.consumer().poll_once() == 3  # the retry, once the hook works
    assert _applied(fresh_db, feed.applied) == [1, 3] and [r[0] for r in feed.aside_rows()] == [2]


def test_poll_without_hook_logs_the_item_without_its_payload_and_counts_it(fresh_db, caplog):
    secret = "11010519491231002X"
    feed = Feed(fresh_db, _page(_item(1, occurred_at="soon", data={"id_number": secret})))
    c = feed.consumer(set_aside=None)
    with caplog.at_level(logging.WARNING, logger="consumer"):
        assert c.poll_once() == 1
    (record,) = [r for r in caplog.records if r.name == "consumer"]
    assert record.fields == {
        "consumer": "test",
        "position": 1,
        "type": "thing.happened",
        "invalid_fields": "occurred_at",
    }
    assert secret not in caplog.text and secret not in json.dumps(record.fields)
    assert c.position() == 1 and c.set_aside_count == 1


class WrappingConsumer(FeedConsumer):
    """Like loyalty's consumer: overrides apply(events) and passes the list on."""

    def apply(self, events):
        return super().apply(events)


def test_poll_subclass_overriding_apply_still_sets_aside(fresh_db):
    feed = Feed(fresh_db, _page(_item(1), _item(2, type=7)))
    c = feed.consumer(cls=WrappingConsumer)
    assert c.poll_once() == 2
    assert [call[0] for call in feed.calls] == ["applied", "set_aside"] and c.position() == 2
