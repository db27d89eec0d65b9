"""On PostgreSQL a recompute and a consumer's batch run concurrently. The recompute's window update must
not read the daily rows from before a concurrent batch's commit and then write its windows over the
batch's fresh ones: both take the classification lock first thing in their transaction, so one waits
for the other to commit before it reads anything (services/segmentation/service/classify.py)."""

import threading
import time
import uuid

import pytest
from sqlalchemy import event, text

from services.common.db import Database
from services.segmentation.service import context, recomputes
from tests import dbkit
from tests.clock import ManualClock
from tests.segmentation.conftest import ALEMBIC_INI, NOW, segmentation_settings
from tests.segmentation.factories import Feed

pytestmark = pytest.mark.postgres
WAIT_SECONDS = 30.0  # a safety net for a hung thread, not a timing assertion


def _lock_waiters(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()


def test_a_recompute_never_writes_windows_over_a_concurrent_batchs_commit():
    dbkit.require_postgres()
    url = dbkit.fresh_pg_database(f"test_seg_recompute_race_{dbkit.worker_id()}")
    dbkit.migrate(ALEMBIC_INI, url)
    db = Database(url)
    settings, clock = segmentation_settings(url), ManualClock(NOW)
    feed = Feed(db, settings, clock)
    ctx = context.Context(db=db, settings=settings, clock=clock)
    try:
        cid = feed.register(str(uuid.uuid4()))
        feed.transaction(cid, amount_fen=10_000)
        assert feed.features(cid).txn_count_30 == 1
        # 40 days on, the first transaction has left the 30-day window: the recompute rewrites this
        # customer's row, and would write it from the daily rows it read before the batch committed.
        clock.advance(days=40)

        # The consumer's batch holds its transaction open, just before commit, until the recompute waits.
        may_commit, holding = threading.Event(), threading.Event()

        @event.listens_for(db.engine, "commit")
        def hold(conn):
            if threading.current_thread() is batch_thread:
                holding.set()
                assert may_commit.wait(WAIT_SECONDS)

        batch_thread = threading.Thread(target=lambda: feed.transaction(cid, amount_fen=5_000))
        batch_thread.start()
        assert holding.wait(WAIT_SECONDS)
        job, _ = recomputes.start_recompute(ctx, actor="test")
        recompute = threading.Thread(target=lambda: recomputes.run_recompute(ctx, job_id=job.id))
        recompute.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while _lock_waiters(db) == 0:  # the recompute waits on the batch: its lock (or, unfixed, the row)
            assert time.monotonic() < deadline, "the recompute never waited for the batch"
            time.sleep(0.02)
        may_commit.set()
        batch_thread.join(WAIT_SECONDS)
        recompute.join(WAIT_SECONDS)
        event.remove(db.engine, "commit", hold)

        assert recomputes.require_job(db, job_id=job.id).status == "succeeded"
        after = feed.features(cid)
        assert (after.txn_count_30, after.txn_amount_fen_30, after.txn_count_90) == (1, 5_000, 2)
    finally:
        db.dispose()
