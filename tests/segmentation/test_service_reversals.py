"""Reversals take the original customer-initiated transaction back out of its day: windows, digital
share, last transaction time and the behaviour class follow; unknown, uncounted or pruned originals
change nothing; a full recompute afterwards changes nothing."""

from datetime import timedelta

from services.segmentation.models import counted_transaction, daily_activity
from services.segmentation.service import context, recomputes
from tests.segmentation.conftest import NOW


def windows(f):
    return (
        f.txn_count_30,
        f.txn_count_90,
        f.txn_count_365,
        f.txn_amount_fen_30,
        f.txn_amount_fen_365,
        f.digital_share_pct,
    )


def recompute(feed, settings, clock) -> int:
    ctx = context.Context(db=feed.db, settings=settings, clock=clock)
    job, _ = recomputes.start_recompute(ctx, actor="t")
    recomputes.run_recompute(ctx, job_id=job.id)
    done = recomputes.require_job(feed.db, job_id=job.id)
    assert done.status == "succeeded"
    return done.changed


def test_reversal_removes_the_original_from_windows_and_share(feed):
    cid = feed.register(at=NOW - timedelta(days=400))
    feed.transaction(cid, at=NOW - timedelta(days=40), amount_fen=700, channel="counter")
    mobile = feed.transaction(cid, at=NOW - timedelta(days=40, hours=-1), amount_fen=300, channel="mobile")
    feed.transaction(cid, at=NOW - timedelta(days=1), amount_fen=50, channel="counter")
    assert windows(feed.features(cid)) == (1, 3, 3, 50, 1050, 33)
    feed.reversal(cid, mobile, amount_fen=300)
    assert windows(feed.features(cid)) == (1, 2, 2, 50, 750, 0)


def test_reversal_moves_the_behaviour_class_back(feed, settings):
    cid = feed.register(at=NOW - timedelta(days=400))
    needed = settings.active_min_txn_90_individual
    ids = [feed.transaction(cid, at=NOW - timedelta(days=10, hours=i)) for i in range(needed)]
    assert feed.features(cid).class_behaviour == "active"
    feed.reversal(cid, ids[0])
    f = feed.features(cid)
    assert f.class_behaviour == "potential" and f.txn_count_90 == len(ids) - 1
    assert [(c.from_class, c.to_class) for c in feed.changes(cid) if c.scheme == "behaviour"][-1] == (
        "active",
        "potential",
    )
    assert feed.outbox()[-1].data["to_class"] == "potential"


def test_reversing_the_only_transaction_leaves_no_activity_and_no_last_time(feed):
    cid = feed.register(at=NOW - timedelta(days=800))
    original = feed.transaction(cid, at=NOW - timedelta(days=3))
    assert feed.features(cid).class_behaviour == "potential"
    feed.reversal(cid, original)
    f = feed.features(cid)
    assert windows(f) == (0, 0, 0, 0, 0, None) and f.last_txn_at is None and f.class_behaviour == "dormant"
    assert feed.count(daily_activity) == 0 and feed.count(counted_transaction) == 0


def test_last_transaction_time_falls_back_to_the_latest_still_counted(feed):
    cid = feed.register()
    feed.transaction(cid, at=NOW - timedelta(days=5))
    latest = feed.transaction(cid, at=NOW - timedelta(days=1))
    feed.reversal(cid, latest)
    assert feed.features(cid).last_txn_at == NOW - timedelta(days=5)


def test_unknown_and_uncounted_originals_change_nothing(feed):
    cid = feed.register()
    feed.transaction(cid, amount_fen=100)
    interest = feed.transaction(cid, amount_fen=5, initiated=False, kind="deposit")
    before = feed.features(cid)
    feed.reversal(cid, "no-such-transaction")
    feed.reversal(cid, interest)
    feed.transaction(cid, kind="reversal", initiated=False, reverses=None)  # malformed but harmless: nothing named
    after = feed.features(cid)
    assert windows(after) == windows(before) == (1, 1, 1, 100, 100, 100)
    assert feed.consumers["profile"].position() == feed.positions["profile"]


def test_a_second_reversal_of_the_same_original_changes_nothing(feed):
    cid = feed.register()
    feed.transaction(cid, amount_fen=100)
    original = feed.transaction(cid, amount_fen=200)
    feed.reversal(cid, original)
    feed.reversal(cid, original)
    assert windows(feed.features(cid))[:5] == (1, 1, 1, 100, 100)


def test_the_same_reversal_event_applied_twice_counts_once(feed):
    cid = feed.register()
    feed.transaction(cid, amount_fen=100)
    original = feed.transaction(cid, amount_fen=200)
    e = feed.event(
        "transaction.recorded",
        cid,
        {
            "transaction_id": "r",
            "external_id": "r1",
            "kind": "reversal",
            "amount": "2.00",
            "amount_fen": 200,
            "channel": "counter",
            "occurred_at": NOW.isoformat(),
            "customer_initiated": False,
            "reverses_external_id": original,
        },
    )
    assert feed.apply(e) == 1
    assert feed.apply(e) == 0
    assert windows(feed.features(cid))[:5] == (1, 1, 1, 100, 100)


def test_reversal_of_a_pruned_original_changes_nothing(feed, settings, clock):
    cid = feed.register(at=NOW - timedelta(days=800))
    old = feed.transaction(cid, at=NOW - timedelta(days=2))
    clock.advance(days=366)
    recompute(feed, settings, clock)  # the original's day leaves every window and is pruned
    assert feed.count(counted_transaction) == 0 and feed.count(daily_activity) == 0
    before = feed.features(cid)
    feed.reversal(cid, old)
    after = feed.features(cid)
    assert windows(after) == windows(before) and after.last_txn_at == before.last_txn_at


def test_after_reversals_a_full_recompute_changes_nothing(feed, settings, clock):
    cid = feed.register(at=NOW - timedelta(days=400))
    ids = [feed.transaction(cid, at=NOW - timedelta(days=d), channel="online") for d in (1, 20, 60, 200)]
    feed.reversal(cid, ids[1])
    feed.reversal(cid, ids[3])
    before = feed.features(cid)
    assert recompute(feed, settings, clock) == 0
    assert feed.features(cid)._mapping == before._mapping


def test_erasure_forgets_counted_transactions(feed):
    cid = feed.register()
    feed.transaction(cid)
    feed.send("customer.erased", cid, {"customer_no": "1", "erased_at": NOW.isoformat()})
    assert feed.count(counted_transaction) == 0
