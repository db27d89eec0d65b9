"""Long polling on the event feed (`wait`), and what a consumer tells about itself: its failures by
reason, seconds since its last success, readiness turning 503 when its feed stays silent, metrics
at scrape time, and a stop that does not wait for a long poll in flight."""

import threading
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import MetaData

from services.common.auth import TokenVerifier, mint_token
from services.common.config import DEV_JWT_SECRET, BaseServiceSettings
from services.common.consumer import ConsumerThread, FeedConsumer, classify_failure, consumer_check
from services.common.consumer_metrics import install_consumer_metrics
from services.common.db import Database
from services.common.errors import install_problem_handlers
from services.common.feed_wait import FeedSignal
from services.common.outbox import feed_router, record_event
from tests import dbkit
from tests.common.conftest import kit_metadata

TOKEN = mint_token(DEV_JWT_SECRET, sub="test-consumer", role="system", scope="events:read", ttl_seconds=3600)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def feed(tmp_path):
    """A feed owner's app on a SQLite file: its outbox, GET /v1/events, and a way to commit events."""
    md: MetaData = kit_metadata()
    db = Database(dbkit.sqlite_url(tmp_path / "owner.db"))
    md.create_all(db.engine)
    outbox = md.tables["outbox_event"]
    app = FastAPI()
    app.state.db = db
    app.state.verifier = TokenVerifier(BaseServiceSettings(environment="test", jwt_secret=DEV_JWT_SECRET))
    install_problem_handlers(app)
    app.include_router(feed_router(outbox, recheck_seconds=30))  # only a commit in this process wakes a wait

    def commit(subject: str = "c1") -> None:
        with db.write() as s:
            record_event(s, outbox, type="thing.happened", subject_id=subject, data={})
            s.commit()

    with TestClient(app) as client:
        yield client, commit, md
    db.dispose()


def _later(seconds: float, fn) -> threading.Timer:
    timer = threading.Timer(seconds, fn)
    timer.start()
    return timer


def test_wait_answers_when_an_event_commits(feed):
    client, commit, _ = feed
    _later(0.3, commit).join(0)  # commits while the request is held
    started = time.monotonic()
    page = client.get("/v1/events", params={"after": 0, "wait": 20}, headers=AUTH).json()
    assert [e["position"] for e in page["items"]] == [1]
    assert time.monotonic() - started < 15  # woken by the commit, not by the 20 s wait (a loose bound)


def test_wait_answers_empty_when_the_time_passes(feed):
    client, _, _ = feed
    started = time.monotonic()
    page = client.get("/v1/events", params={"after": 0, "wait": 0.3}, headers=AUTH).json()
    assert page == {"items": [], "last_position": 0, "head_position": 0}
    assert time.monotonic() - started >= 0.3


def test_wait_is_not_held_when_events_are_there(feed):
    client, commit, _ = feed
    commit()
    page = client.get("/v1/events", params={"after": 0, "wait": 20}, headers=AUTH).json()
    assert page["last_position"] == 1


@pytest.mark.parametrize("wait", ["31", "-1", "soon"])
def test_wait_beyond_30_seconds_or_not_a_number_is_422(feed, wait):
    client, _, _ = feed
    resp = client.get("/v1/events", params={"wait": wait}, headers=AUTH)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "wait"]


def test_signal_wait_returns_at_once_for_a_commit_before_it():
    import asyncio

    signal = FeedSignal()
    seen = signal.version
    signal.notify()  # a commit between reading the page and starting to wait
    started = time.monotonic()
    asyncio.run(signal.wait(seen, 5))
    assert time.monotonic() - started < 4


def _consumer(db: Database, md: MetaData, client, url: str = "/v1/events", token=lambda: TOKEN, **kw) -> FeedConsumer:
    return FeedConsumer(
        name="things",
        feed="owner",
        db=db,
        cursor_table=md.tables["consumer_cursor"],
        handlers={"thing.happened": lambda s, e: None},
        client=client,
        feed_url=url,
        token=token,
        **kw,
    )


@pytest.fixture
def consumer_db(tmp_path):
    md = kit_metadata()
    db = Database(dbkit.sqlite_url(tmp_path / "consumer.db"))
    md.create_all(db.engine)
    yield db, md
    db.dispose()


def test_failures_are_classified_by_reason(feed, consumer_db):
    client, _, _ = feed
    db, md = consumer_db
    request = httpx.Request("GET", "http://owner/v1/events")

    def status(code: int) -> httpx.HTTPStatusError:
        return httpx.HTTPStatusError("x", request=request, response=httpx.Response(code, request=request))

    assert classify_failure(httpx.ConnectError("refused")) == "connect"
    assert classify_failure(httpx.ReadTimeout("slow")) == "connect"
    assert classify_failure(status(401)) == "auth" and classify_failure(status(403)) == "auth"
    assert classify_failure(status(500)) == "server_error" and classify_failure(status(404)) == "server_error"
    assert classify_failure(RuntimeError("a handler broke")) == "apply"
    bad_token = _consumer(db, md, client, token=lambda: "not-a-token")
    with pytest.raises(httpx.HTTPStatusError) as err:
        bad_token.poll_once()
    assert classify_failure(err.value) == "auth"
    not_json = _consumer(db, md, client, url="/openapi.json")  # JSON, but not a page
    with pytest.raises(Exception) as err:
        not_json.poll_once()
    assert classify_failure(err.value) == "malformed"


def test_readiness_turns_503_reason_named_when_the_feed_stays_unreadable(feed, consumer_db):
    client, commit, _ = feed
    db, md = consumer_db
    commit()
    c = _consumer(db, md, client, token=lambda: "expired-or-forged")
    check = consumer_check(c, max_lag=10, max_silence=0.2)
    assert check() == (True, "0 events behind owner's feed")  # a fresh consumer has its grace period
    stop = threading.Event()
    runner = threading.Thread(target=c.run, args=(stop, 0.05))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while c.health.failures["auth"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.25)
        ready, detail = check()
        assert not ready and detail.startswith("owner's feed /v1/events not consumed for") and "(auth)" in detail
    finally:
        stop.set()
        runner.join(5)
    c.token = lambda: TOKEN  # the credential is fixed: the next poll succeeds and readiness returns
    assert c.poll_once() == 1 and check() == (True, "0 events behind owner's feed")


def test_metrics_export_lag_silence_and_failures_by_reason(feed, consumer_db):
    client, commit, _ = feed
    db, md = consumer_db
    for _ in range(3):
        commit()
    c = _consumer(db, md, client, batch_size=2)
    registry = CollectorRegistry(auto_describe=True)
    install_consumer_metrics(registry, [c])
    assert c.poll_once() == 2
    c.health.failed(c, "connect")
    text = generate_latest(registry).decode()
    assert 'feed_consumer_lag_events{consumer="things",feed="owner"} 1.0' in text
    assert 'feed_consumer_poll_failures_total{consumer="things",feed="owner",reason="connect"} 1.0' in text
    assert 'feed_consumer_poll_failures_total{consumer="things",feed="owner",reason="auth"} 0.0' in text
    silent = [ln for ln in text.splitlines() if ln.startswith("feed_consumer_seconds_since_success{")]
    assert len(silent) == 1 and 0 <= float(silent[0].split()[-1]) < 60


def test_consumer_long_polls_once_caught_up_and_applies_what_commits(feed, consumer_db):
    client, commit, _ = feed
    db, md = consumer_db
    c = _consumer(db, md, client, wait_seconds=3)
    thread = ConsumerThread(c, idle_seconds=30)  # an idle pause would show: only the long poll is fast
    thread.start()
    try:
        time.sleep(0.3)  # the consumer is now held in a long poll
        commit()
        deadline = time.monotonic() + 10
        while c.position() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.position() == 1
    finally:
        started = time.monotonic()
        thread.stop()
        assert time.monotonic() - started < 2  # the long poll in flight is not waited for
        thread._thread.join(10)  # it ends alone, before the feed's test client closes
