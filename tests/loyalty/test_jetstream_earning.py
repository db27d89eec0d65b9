"""Loyalty's earning consumer switched to JetStream by setting (LOYALTY_JETSTREAM_FEEDS=profile), against
the real server: transactions published to profile's stream earn once each, a late duplicate of an
event (published again outside the de-duplication window) earns nothing, and the HTTP cursor a consumer
leaves behind is where its partitions start."""

import asyncio
import time
import uuid

import nats
import pytest
from fastapi.testclient import TestClient

from services.common.db import utcnow
from services.common.jetstream import ensure_stream, event_message
from services.common.jetstream_consumer import JetStreamRunner
from services.loyalty.app import create_app
from services.loyalty.config import LoyaltySettings
from tests import natskit
from tests.loyalty import factories as f

pytestmark = pytest.mark.nats


@pytest.fixture
def transport():
    natskit.require_nats()
    t = natskit.transport()
    yield t
    natskit.drop(t)


def publish(t, events, ids: list[str] | None = None) -> None:
    async def send():
        nc = await nats.connect(t.url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, t, "profile")
            for i, event in enumerate(events):
                subject, body, headers = event_message(t, "profile", event)
                if ids:
                    headers["Nats-Msg-Id"] = ids[i]
                await js.publish(subject, body, headers=headers)
        finally:
            await nc.close()

    asyncio.run(send())


def settings(url: str, t) -> LoyaltySettings:
    return LoyaltySettings(
        environment="test",
        database_url=url,
        log_level="WARNING",
        profile_feed_url="http://127.0.0.1:9/v1/events",  # never read: the profile feed comes from JetStream
        segmentation_feed_url="",
        feedback_feed_url="",
        nats_url=t.url,
        nats_subject_prefix=t.prefix,
        nats_lease_seconds=2,
        nats_relay=False,
        jetstream_feeds="profile",
    )


def wait_for_balance(client, auth, cid: str, points: int) -> None:
    deadline = time.monotonic() + 60
    while f.balance(client, auth, cid) != points:
        assert time.monotonic() < deadline, f"balance {f.balance(client, auth, cid)}, expected {points}"
        time.sleep(0.1)


def test_earning_over_jetstream_earns_each_transaction_once(fresh_loyalty_db, auth, transport):
    app = create_app(settings(fresh_loyalty_db.url, transport), db=fresh_loyalty_db, clock=utcnow)
    with TestClient(app) as client:
        cid = f.enrol(client, auth)
        f.rule(client, auth, points_per_100_cny=10)
        events = [f.txn(cid, 10_000, position=p) for p in range(1, 21)]  # 100 CNY: 10 points each
        publish(transport, events)
        wait_for_balance(client, auth, cid, 200)
        publish(transport, events[:5], ids=[str(uuid.uuid4()) for _ in range(5)])  # beyond the window
        publish(transport, [f.txn(cid, 10_000, position=21)])
        wait_for_balance(client, auth, cid, 210)
        assert client.get("/health/ready").status_code == 200
    runners = [w for w in app.state.event_workers if isinstance(w, JetStreamRunner)]
    assert [r.consumer.name for r in runners] == ["loyalty-profile"]


def test_partitions_start_at_the_http_cursor(fresh_loyalty_db, auth, transport):
    app = create_app(settings(fresh_loyalty_db.url, transport), db=fresh_loyalty_db, clock=utcnow)
    http = f.consumer(app, db=fresh_loyalty_db)
    with TestClient(app) as client:
        cid = f.enrol(client, auth)
        f.rule(client, auth, points_per_100_cny=10)
        events = [f.txn(cid, 10_000, position=p) for p in range(1, 11)]
        assert http.apply(events[:4]) == 4  # applied over HTTP before the switch
        publish(transport, events)
        wait_for_balance(client, auth, cid, 100)  # 140 if the partition had started at 0


def test_jetstream_feed_loyalty_does_not_consume_is_refused_at_start(tmp_path):
    wrong = LoyaltySettings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        profile_feed_url="",
        segmentation_feed_url="",
        feedback_feed_url="",
        nats_url="nats://127.0.0.1:1",
        jetstream_feeds="profile",  # its URL is empty: loyalty runs no profile consumer
    )
    with pytest.raises(ValueError, match="loyalty consumes no feed named profile"):
        create_app(wrong)
