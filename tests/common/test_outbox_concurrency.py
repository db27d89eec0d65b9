"""The feed never lets a reader skip an event, even when concurrent writers commit out of order."""

import random
import threading
import time

from sqlalchemy import func, select

from services.common.outbox import read_feed, record_event
from tests.common.conftest import kit_metadata

WRITERS, EVENTS_EACH = 6, 25


def test_concurrent_writers_never_make_a_polling_reader_miss_an_event(fresh_db):
    md = kit_metadata()
    md.create_all(fresh_db.engine)
    table = md.tables["outbox_event"]
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(EVENTS_EACH):
                with fresh_db.write() as s:
                    record_event(s, table, type="thing.happened", subject_id=f"{n}-{i}", data={"i": i})
                    time.sleep(rng.random() * 0.004)  # widen the window between insert and commit
                    s.commit()
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    seen: list[int] = []

    def reader() -> None:
        after = 0
        while True:
            finished = done.is_set()
            with fresh_db.read() as s:
                page = read_feed(s, table, after=after, limit=7)
            seen.extend(e.position for e in page.items)
            after = page.last_position
            if finished and not page.items:
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    poller = threading.Thread(target=reader)
    poller.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    poller.join(timeout=60)
    assert not errors
    with fresh_db.read() as s:
        all_positions = list(s.execute(select(table.c.position).order_by(table.c.position)).scalars())
        assert s.execute(select(func.count()).select_from(table)).scalar() == WRITERS * EVENTS_EACH
    assert seen == all_positions  # every event, once, in order
