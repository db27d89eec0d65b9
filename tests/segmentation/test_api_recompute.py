"""Recompute jobs: one at a time, set-based, progress readable; after random events a full recompute
changes nothing (incremental equals full)."""

import threading
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.segmentation.models import recompute_job
from services.segmentation.service import context, recomputes, segments
from tests.segmentation.conftest import NOW


def test_recompute_runs_and_reports_its_progress(client, auth, feed, clock):
    cid = feed.register(at=NOW - timedelta(days=200))
    feed.transaction(cid, at=NOW - timedelta(days=200))
    clock.advance(days=200)  # the last transaction is now 400 days old: dormant on recompute
    r = client.post("/v1/recomputes", headers=auth("supervisor"))
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "succeeded" and job["steps_done"] == job["steps_total"] == 2
    assert job["changed"] == 1 and r.headers["Location"] == f"/v1/recomputes/{job['id']}"
    assert feed.features(cid).class_behaviour == "dormant"
    got = client.get(f"/v1/recomputes/{job['id']}", headers=auth("staff"))
    assert got.status_code == 200 and got.json()["phase"] == "done"
    listed = client.get("/v1/recomputes?limit=1", headers=auth("admin")).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    text = client.get("/metrics").text
    assert 'segmentation_recomputes_total{status="succeeded"} 1.0' in text
    assert "segmentation_recompute_class_changes_total 1.0" in text


def test_second_request_while_one_runs_returns_the_running_job(client, auth, seg_app):
    ctx = seg_app.state.ctx
    running, created = recomputes.start_recompute(ctx, actor="someone")  # queued, not run
    assert created
    r = client.post("/v1/recomputes", headers=auth("admin"))
    assert r.status_code == 200 and r.json()["id"] == running.id and r.json()["status"] == "queued"
    recomputes.run_recompute(ctx, job_id=running.id)
    r = client.post("/v1/recomputes", headers=auth("admin"))
    assert r.status_code == 202 and r.json()["id"] != running.id


def test_a_silent_job_is_abandoned_and_a_new_one_starts(client, auth, seg_app, clock):
    stale, _ = recomputes.start_recompute(seg_app.state.ctx, actor="crashed")
    clock.advance(minutes=61)
    r = client.post("/v1/recomputes", headers=auth("admin"))
    assert r.status_code == 202 and r.json()["id"] != stale.id and r.json()["status"] == "succeeded"
    old = client.get(f"/v1/recomputes/{stale.id}", headers=auth("admin")).json()
    assert (old["status"], old["error"]) == ("failed", "abandoned")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_starts_create_one_job(backend, tmp_path, seg_sqlite_template):
    """Real commits across connections, so its own database: the unique running slot admits one job."""
    from services.common.db import Database
    from tests import dbkit
    from tests.segmentation.conftest import ALEMBIC_INI, segmentation_settings

    if backend == "sqlite":
        url = dbkit.sqlite_url(dbkit.copy_sqlite(seg_sqlite_template, tmp_path / "race.db"))
    else:
        dbkit.require_postgres()
        url = dbkit.fresh_pg_database(f"test_segmentation_race_{dbkit.worker_id()}")
        dbkit.migrate(ALEMBIC_INI, url)
    db = Database(url)
    ctx = context.Context(db=db, settings=segmentation_settings(db.url), clock=lambda: NOW)
    results, barrier = [], threading.Barrier(4)

    def start():
        barrier.wait()
        results.append(recomputes.start_recompute(ctx, actor="x"))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert len({job.id for job, _ in results}) == 1 and sum(created for _, created in results) == 1
    db.dispose()


def test_failed_recompute_is_recorded_and_frees_the_slot(seg_app, monkeypatch):
    ctx = seg_app.state.ctx
    job, _ = recomputes.start_recompute(ctx, actor="x")

    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(recomputes, "classify", boom)
    recomputes.run_recompute(ctx, job_id=job.id)
    failed = recomputes.require_job(ctx.db, job_id=job.id)
    assert (failed.status, failed.error, failed.running_slot) == ("failed", "RuntimeError", None)


def _start(client, auth, body=None):
    r = client.post("/v1/recomputes", headers=auth("supervisor"), json=body)
    assert r.status_code == 202, r.text
    return r.json()


def _drift(db, customer_id: str, **values) -> None:
    """A customer's stored windows made wrong behind the service's back (what a repair is for)."""
    from sqlalchemy import update

    from services.segmentation.models import customer_feature

    with db.write() as s:
        s.execute(update(customer_feature).where(customer_feature.c.customer_id == customer_id).values(**values))
        s.commit()


def test_the_daily_job_starts_from_the_previous_success_and_the_first_rederives_everyone(client, auth, feed, clock):
    feed.register(at=NOW - timedelta(days=10))
    first = _start(client, auth)
    assert (first["windows"], first["windows_since"]) == ("all", None)  # nothing to start from
    clock.advance(days=1)
    daily = _start(client, auth)
    assert (daily["windows"], daily["windows_since"]) == ("moved", NOW.date().isoformat())
    clock.advance(days=2)
    repair = _start(client, auth, {"windows": "all"})
    assert (repair["windows"], repair["windows_since"]) == ("all", None)


@pytest.mark.parametrize(("days", "windows"), [(0, "moved"), (31, "moved"), (32, "all"), (-1, "all")])
def test_the_daily_job_rederives_everyone_after_a_long_gap_or_a_clock_set_back(client, auth, clock, days, windows):
    _start(client, auth)
    clock.advance(days=days)
    assert _start(client, auth)["windows"] == windows


def test_only_customers_whose_days_left_a_window_are_rederived_unless_all_are_asked_for(
    client, auth, feed, clock, seg_db
):
    leaving, steady, drifted = (feed.register(at=NOW - timedelta(days=400)) for _ in range(3))
    feed.transaction(leaving, at=NOW - timedelta(days=29, hours=1))  # leaves the 30-day window tomorrow
    feed.transaction(steady, at=NOW - timedelta(days=5))
    _start(client, auth)
    _drift(seg_db, drifted, txn_count_365=7)  # no daily row at all: only a repair looks at it
    clock.advance(days=1)
    assert _start(client, auth)["windows"] == "moved"
    f = feed.features(leaving)
    assert (f.txn_count_30, f.txn_count_90, f.txn_count_365) == (0, 1, 1)
    assert feed.features(steady).txn_count_30 == 1
    assert feed.features(drifted).txn_count_365 == 7
    _start(client, auth, {"windows": "all"})
    assert feed.features(drifted).txn_count_365 == 0


def test_a_customer_whose_last_day_left_the_longest_window_is_zeroed_by_the_daily_job(client, auth, feed, clock):
    cid = feed.register(at=NOW - timedelta(days=800))
    feed.transaction(cid, at=NOW - timedelta(days=364, hours=1), channel="mobile")
    _start(client, auth)
    assert (feed.features(cid).txn_count_365, feed.features(cid).digital_share_pct) == (1, 100)
    clock.advance(days=1)
    assert _start(client, auth)["windows"] == "moved"
    f = feed.features(cid)
    assert (f.txn_count_365, f.txn_amount_fen_365, f.digital_share_pct) == (0, 0, None)


@pytest.mark.parametrize("body", [{"windows": "some"}, {"windows": None}, {"scope": "all"}, ["all"]])
def test_a_bad_recompute_body_is_422(client, auth, body):
    r = client.post("/v1/recomputes", headers=auth("supervisor"), json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][0] == "body"


def test_unknown_job_is_404(client, auth):
    r = client.get(f"/v1/recomputes/{uuid.uuid4()}", headers=auth("staff"))
    assert r.status_code == 404 and r.json()["code"] == "recompute_not_found"


@pytest.mark.parametrize(
    ("role", "status"), [("customer", 403), ("staff", 403), ("system", 403), ("supervisor", 202), ("admin", 202)]
)
def test_who_may_start_a_recompute(client, auth, role, status):
    assert client.post("/v1/recomputes", headers=auth(role)).status_code == status


@pytest.mark.parametrize("path", ["/v1/recomputes", "/v1/recomputes/00000000-0000-4000-8000-000000000009"])
def test_customers_may_not_read_jobs_and_tokens_are_required(client, auth, path):
    assert client.get(path, headers=auth("customer")).status_code == 403
    assert client.get(path).status_code == 401


def test_bad_cursor_is_422(client, auth):
    from services.common.pagination import encode_cursor

    for cursor in ("zzz", encode_cursor(["not a time", "x"])):
        r = client.get(f"/v1/recomputes?cursor={cursor}", headers=auth("staff"))
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "cursor"]


# --- the property: incremental equals full ---------------------------------------------------------

CUSTOMERS = [str(uuid.UUID(int=i + 1)) for i in range(4)]
event_st = st.one_of(
    st.tuples(
        st.just("register"),
        st.sampled_from(CUSTOMERS),
        st.sampled_from(["individual", "enterprise"]),
        st.integers(0, 800),
    ),
    st.tuples(st.just("txn"), st.sampled_from(CUSTOMERS), st.integers(0, 500), st.integers(1, 10**9)),
    st.tuples(st.just("assets"), st.sampled_from(CUSTOMERS), st.integers(0, 2 * 10**10), st.integers(0, 3)),
    st.tuples(st.just("tick"), st.just(""), st.integers(0, 40), st.just(0)),
    st.tuples(st.just("wait"), st.just(""), st.integers(0, 40), st.just(0)),
    st.tuples(st.just("reverse"), st.just(""), st.integers(0, 30), st.just(0)),
)


def _snapshot(db):
    from sqlalchemy import select

    from services.segmentation.models import customer_feature, membership_change, segment_member

    with db.read() as s:
        return (
            s.execute(select(customer_feature).order_by(customer_feature.c.customer_id)).all(),
            s.execute(select(membership_change.c.id)).all(),
            s.execute(select(segment_member)).all(),
        )


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(event_st, min_size=1, max_size=12))
def test_after_random_events_and_daily_jobs_a_repair_recompute_changes_nothing(
    tmp_path_factory, seg_sqlite_template, events
):
    from services.common.db import Database
    from tests import dbkit
    from tests.segmentation.conftest import segmentation_settings
    from tests.segmentation.factories import Clock, Feed

    path = dbkit.copy_sqlite(seg_sqlite_template, tmp_path_factory.mktemp("prop") / "p.db")
    db = Database(dbkit.sqlite_url(path))
    settings_ = segmentation_settings(db.url)
    clock = Clock(NOW)
    feed = Feed(db, settings_, clock)
    ctx = context.Context(db=db, settings=settings_, clock=clock)
    segments.create_segment(
        ctx, name="rich", description="", rule={"field": "aum", "op": "gte", "value": "1000.00"}, actor="t"
    )
    segments.create_segment(
        ctx,
        name="settled",
        description="",
        actor="t",
        rule={
            "all": [
                {"field": "tenure_days", "op": "gte", "value": 60},
                {"field": "txn_count_90", "op": "gte", "value": 1},
            ]
        },
    )
    sent: list[tuple[str, str]] = []
    for kind, cid, a, b in events:
        if kind == "register":
            feed.register(cid, type=a, at=clock() - timedelta(days=b))
        elif kind == "txn":
            sent.append((cid, feed.transaction(cid, at=clock() - timedelta(days=a), amount_fen=b)))
        elif kind == "reverse":
            if sent:
                owner, original = sent[a % len(sent)]
                feed.reversal(owner, original)
        elif kind == "assets":
            feed.assets(cid, a, as_of=clock().date() - timedelta(days=b))
        elif kind == "wait":  # time passes with no recompute: the next one looks back further
            clock.advance(days=a)
        else:
            clock.advance(days=a)
            job, _ = recomputes.start_recompute(ctx, actor="t")  # the daily job: bring everyone up to date
            recomputes.run_recompute(ctx, job_id=job.id)
    job, _ = recomputes.start_recompute(ctx, actor="t")  # and once more, so that the last one is a daily job
    recomputes.run_recompute(ctx, job_id=job.id)
    before = _snapshot(db)
    job, _ = recomputes.start_recompute(ctx, actor="t", windows="all")  # the repair pass finds nothing to mend
    recomputes.run_recompute(ctx, job_id=job.id)
    done = recomputes.require_job(db, job_id=job.id)
    assert done.status == "succeeded" and done.changed == 0
    assert _snapshot(db)[1:] == before[1:]
    assert [r._mapping for r in _snapshot(db)[0]] == [r._mapping for r in before[0]]
    db.dispose()


__all__ = ["recompute_job"]


def test_background_recompute_finishes_and_is_readable(tmp_path, seg_sqlite_template, auth):
    import time

    from fastapi.testclient import TestClient

    from services.common.db import Database
    from services.segmentation.app import create_app
    from tests import dbkit
    from tests.segmentation.conftest import segmentation_settings

    path = dbkit.copy_sqlite(seg_sqlite_template, tmp_path / "bg.db")
    db = Database(dbkit.sqlite_url(path))
    app = create_app(segmentation_settings(db.url, recompute_inline=False), db=db, clock=lambda: NOW)
    with TestClient(app) as client:
        job = client.post("/v1/recomputes", headers=auth("admin")).json()
        assert job["status"] in ("queued", "running", "succeeded")
        deadline = time.monotonic() + 60
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = client.get(f"/v1/recomputes/{job['id']}", headers=auth("staff")).json()
        assert job["status"] == "succeeded" and job["finished_at"] is not None
