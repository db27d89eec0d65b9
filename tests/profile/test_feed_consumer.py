"""The kit's feed consumer against the real profile feed."""

from sqlalchemy import insert

from services.common.consumer import FeedConsumer
from services.common.db import Database
from tests.common.test_consumer import _applied, _setup
from tests.profile import factories as f


def test_consumer_polls_a_real_feed(client, auth, tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'consumer.db'}")
    cursor, applied = _setup(db)
    for _ in range(3):
        f.register(client, auth("staff"))
    token = auth("system")["Authorization"].split()[1]
    c = FeedConsumer(
        name="feed",
        db=db,
        cursor_table=cursor,
        client=client,
        feed_url="/v1/events",
        token=lambda: token,
        batch_size=2,
        handlers={
            "customer.registered": lambda s, e: s.execute(
                insert(applied).values(position=e.position, subject=e.subject_id)
            )
        },
    )
    assert c.poll_once() == 2 and c.lag() == 1
    assert c.poll_once() == 1 and c.lag() == 0
    assert c.poll_once() == 0
    assert len(_applied(db, applied)) == 3
