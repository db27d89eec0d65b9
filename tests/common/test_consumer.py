"""A feed consumer applies each event exactly once: batch and cursor in one transaction."""

import threading

import pytest
from sqlalchemy import Column, Integer, String, Table, insert, select

from services.common.consumer import FeedConsumer
from services.common.outbox import Event
from tests.common.conftest import kit_metadata


def _setup(db):
    md = kit_metadata()
    applied = Table("applied", md, Column("position", Integer, primary_key=True), Column("subject", String(64)))
    md.create_all(db.engine)
    return md.tables["consumer_cursor"], applied


def _events(n: int, start: int = 1) -> list[Event]:
    return [
        Event(
            position=p,
            event_id=f"e{p}",
            type="thing.happened",
            occurred_at="2026-11-28T10:00:00Z",
            subject_id=f"s{p}",
            data={},
        )
        for p in range(start, start + n)
    ]


def _consumer(db, cursor, applied, fail_at: int | None = None) -> FeedConsumer:
    def handle(s, event: Event) -> None:
        if event.position == fail_at:
            raise RuntimeError("crash in the middle of a batch")
        s.execute(insert(applied).values(position=event.position, subject=event.subject_id))

    return FeedConsumer(
        name="test",
        db=db,
        cursor_table=cursor,
        handlers={"thing.happened": handle},
        client=None,
        feed_url="",
        token=lambda: "",
    )


def _applied(db, applied) -> list[int]:
    with db.read() as s:
        return list(s.execute(select(applied.c.position).order_by(applied.c.position)).scalars())


def test_crash_mid_batch_applies_nothing_and_retry_applies_each_once(fresh_db):
    cursor, applied = _setup(fresh_db)
    events = _events(10)
    assert _consumer(fresh_db, cursor, applied).apply(events[:4]) == 4
    with pytest.raises(RuntimeError):
        _consumer(fresh_db, cursor, applied, fail_at=7).apply(events)
    assert _applied(fresh_db, applied) == [1, 2, 3, 4]
    c = _consumer(fresh_db, cursor, applied)
    assert c.position() == 4
    assert c.apply(events) == 6  # the replayed batch: 1-4 skipped, 5-10 applied
    assert c.apply(events) == 0
    assert _applied(fresh_db, applied) == list(range(1, 11)) and c.position() == 10


def test_competing_replicas_apply_each_event_once(fresh_db):
    cursor, applied = _setup(fresh_db)
    events = _events(60)
    counts, errors = [], []

    def replica() -> None:
        try:
            c = _consumer(fresh_db, cursor, applied)
            counts.extend(c.apply(events[:n]) for n in range(5, 61, 5))
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(counts) == 60
    assert _applied(fresh_db, applied) == list(range(1, 61))
