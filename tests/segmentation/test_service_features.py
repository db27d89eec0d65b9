"""Features from events: each event type, exactly-once application, window and threshold edges, the
four schemes, history and segment.changed in the same transaction."""

from datetime import timedelta

import pytest

from services.segmentation.models import customer_feature, daily_activity, membership_change
from tests.segmentation.conftest import NOW


def test_register_classifies_in_all_four_schemes_and_emits_segment_changed(feed):
    cid = feed.register(region="rural")
    f = feed.features(cid)
    assert (f.class_customer_type, f.class_region, f.class_asset_size, f.class_behaviour) == (
        "individual",
        "rural",
        "ordinary",
        "potential",
    )
    assert {(c.scheme, c.from_class, c.to_class) for c in feed.changes(cid)} == {
        ("customer_type", None, "individual"),
        ("region", None, "rural"),
        ("asset_size", None, "ordinary"),
        ("behaviour", None, "potential"),
    }
    events = feed.outbox()
    assert len(events) == 4 and {e.type for e in events} == {"segment.changed"}
    data = next(e.data for e in events if e.data["scheme"] == "region")
    assert data["from_class"] is None and data["to_class"] == "rural"
    assert data["changed_at"].endswith("Z") and events[0].subject_id == cid


def test_same_event_applied_twice_counts_once(feed):
    cid = feed.register()
    e = feed.event(
        "transaction.recorded",
        cid,
        {
            "transaction_id": "t",
            "external_id": "x",
            "kind": "deposit",
            "amount": "10.00",
            "amount_fen": 1000,
            "channel": "counter",
            "occurred_at": NOW.isoformat(),
            "customer_initiated": True,
            "reverses_external_id": None,
        },
    )
    assert feed.apply(e) == 1
    assert feed.apply(e) == 0
    f = feed.features(cid)
    assert (f.txn_count_30, f.txn_amount_fen_30) == (1, 1000)


def test_a_malformed_event_is_set_aside_and_the_rest_of_the_batch_applies(feed):
    cid = feed.register()
    good = feed.event(
        "points.earned",
        cid,
        {"entry_id": "e", "points": 5, "source": "manual", "source_ref": "r", "balance": 5},
        source="loyalty",
    )
    bad = feed.event("points.earned", cid, {"entry_id": "e2"}, source="loyalty")  # no balance
    assert feed.apply(good, bad, source="loyalty") == 2
    assert feed.features(cid).points_balance == 5
    assert feed.consumers["loyalty"].position() == bad.position
    assert feed.quarantined == [("loyalty", "points.earned")]


@pytest.mark.parametrize(
    ("type_", "aum_fen", "expected"),
    [
        ("individual", 500_000_000, "major"),
        ("individual", 499_999_999, "mid_high"),
        ("individual", 50_000_000, "mid_high"),
        ("individual", 49_999_999, "ordinary"),
        ("individual", 0, "ordinary"),
        ("enterprise", 10_000_000_000, "major"),
        ("enterprise", 9_999_999_999, "mid_high"),
        ("enterprise", 1_000_000_000, "mid_high"),
        ("enterprise", 999_999_999, "ordinary"),
        ("enterprise", 100_000_000, "ordinary"),
        ("enterprise", 99_999_999, "micro"),
        ("interbank", 100_000_000_000, "major"),
        ("interbank", 99_999_999_999, "mid_high"),
        ("interbank", 9_999_999_999, "ordinary"),
    ],
)
def test_asset_size_thresholds_at_their_edges(feed, type_, aum_fen, expected):
    cid = feed.register(type=type_)
    feed.assets(cid, aum_fen)
    assert feed.features(cid).class_asset_size == expected


def test_asset_update_older_than_the_last_is_ignored(feed):
    cid = feed.register()
    feed.assets(cid, 600_000_000, as_of=NOW.date())
    feed.assets(cid, 100, as_of=NOW.date() - timedelta(days=1))
    assert feed.features(cid).aum_fen == 600_000_000
    moves = [(c.from_class, c.to_class) for c in feed.changes(cid) if c.scheme == "asset_size"]
    assert moves == [(None, "ordinary"), ("ordinary", "major")]


@pytest.mark.parametrize(
    ("type_", "txns", "expected"),
    [
        ("individual", 3, "active"),
        ("individual", 2, "potential"),
        ("enterprise", 10, "active"),
        ("enterprise", 9, "potential"),
        ("interbank", 1, "active"),
        ("interbank", 0, "potential"),
    ],
)
def test_active_needs_the_per_type_count_in_90_days(feed, type_, txns, expected):
    cid = feed.register(type=type_)
    for i in range(txns):
        feed.transaction(cid, at=NOW - timedelta(days=89, hours=-i))
    assert feed.features(cid).class_behaviour == expected


@pytest.mark.parametrize(("last_txn_days_ago", "expected"), [(364, "potential"), (366, "dormant"), (None, "dormant")])
def test_dormant_after_a_year_without_customer_transactions(feed, last_txn_days_ago, expected):
    cid = feed.register(at=NOW - timedelta(days=800))
    if last_txn_days_ago is not None:
        feed.transaction(cid, at=NOW - timedelta(days=last_txn_days_ago))
    assert feed.features(cid).class_behaviour == expected


@pytest.mark.parametrize(("registered_days_ago", "expected"), [(89, "potential"), (91, "dormant")])
def test_new_customers_are_never_dormant(feed, registered_days_ago, expected):
    cid = feed.register(at=NOW - timedelta(days=registered_days_ago))
    assert feed.features(cid).class_behaviour == expected


@pytest.mark.parametrize(
    ("days_ago", "in30", "in90", "in365"),
    [(0, 1, 1, 1), (29, 1, 1, 1), (30, 0, 1, 1), (89, 0, 1, 1), (90, 0, 0, 1), (364, 0, 0, 1), (365, 0, 0, 0)],
)
def test_window_edges(feed, days_ago, in30, in90, in365):
    cid = feed.register(at=NOW - timedelta(days=400))
    feed.transaction(cid, at=NOW - timedelta(days=days_ago), amount_fen=250)
    f = feed.features(cid)
    assert (f.txn_count_30, f.txn_count_90, f.txn_count_365) == (in30, in90, in365)
    assert (f.txn_amount_fen_30, f.txn_amount_fen_90, f.txn_amount_fen_365) == (250 * in30, 250 * in90, 250 * in365)


def test_windows_slide_with_the_clock_on_recompute(feed, clock):
    cid = feed.register()
    feed.transaction(cid)
    clock.advance(days=31)
    from services.segmentation.service.classify import refresh_windows

    with feed.db.write() as s:
        refresh_windows(s, now=clock())
        s.commit()
    f = feed.features(cid)
    assert (f.txn_count_30, f.txn_count_90) == (0, 1)


def test_only_customer_initiated_non_reversal_transactions_count(feed):
    cid = feed.register()
    feed.transaction(cid, initiated=False)
    feed.transaction(cid, kind="reversal")
    feed.transaction(cid, channel="counter")
    feed.transaction(cid, channel="online")
    f = feed.features(cid)
    assert f.txn_count_30 == 2 and f.digital_share_pct == 50 and f.last_txn_at == NOW
    feed.transaction(cid, channel="atm")
    assert feed.features(cid).digital_share_pct == 33  # whole percent, floored; never a float
    assert feed.count(daily_activity) == 1


def test_profile_events_update_descriptive_features(feed):
    cid = feed.register(region="urban", branch="BR0001")
    feed.send(
        "customer.updated",
        cid,
        {
            "customer_no": "1",
            "changed": ["region_type", "branch_code"],
            "region_type": "peri_urban",
            "branch_code": "BR0002",
        },
    )
    feed.send("customer.closed", cid, {"customer_no": "1", "reason": "moved"})
    f = feed.features(cid)
    assert (f.region_type, f.branch_code, f.status, f.class_region) == ("peri_urban", "BR0002", "closed", "peri_urban")
    assert ("urban", "peri_urban") in [(c.from_class, c.to_class) for c in feed.changes(cid) if c.scheme == "region"]


def test_risk_consent_points_and_nps_are_kept(feed):
    cid = feed.register()
    feed.risk(cid, "C3")
    feed.consent(cid, ["sms", "email"])
    feed.send(
        "points.redeemed",
        cid,
        {"entry_id": "e", "redemption_id": "r", "reward_id": "w", "points": 5, "balance": 120},
        source="loyalty",
    )
    feed.send(
        "survey.responded",
        cid,
        {
            "survey_id": "s",
            "survey_version": 1,
            "response_id": "r",
            "channel": "app",
            "nps": 9,
            "csat": None,
            "ces": None,
            "responded_at": NOW.isoformat(),
        },
        source="feedback",
    )
    f = feed.features(cid)
    assert (f.risk_level, f.risk_expires_at) == ("C3", NOW + timedelta(days=365))
    assert (f.is_marketing_contactable, f.contactable_channels) == (True, "email,sms")
    assert (f.points_balance, f.nps_latest) == (120, 9)
    feed.consent(cid, ["sms"], do_not_contact=True)
    assert feed.features(cid).is_marketing_contactable is False


def test_events_before_registration_keep_an_unclassified_row(feed):
    cid = "00000000-0000-4000-8000-000000000001"
    feed.transaction(cid)
    f = feed.features(cid)
    assert f.type is None and f.class_behaviour is None and f.txn_count_30 == 1
    assert feed.changes(cid) == []
    feed.register(cid)
    assert feed.features(cid).class_behaviour == "potential"


def test_erased_customer_is_forgotten(feed):
    cid = feed.register()
    feed.transaction(cid)
    feed.send("customer.erased", cid, {"customer_no": "1", "erased_at": NOW.isoformat()})
    assert feed.features(cid) is None
    assert feed.count(customer_feature) == 0 and feed.count(daily_activity) == 0
    assert feed.count(membership_change) == 0


@pytest.mark.parametrize(("kind", "balance"), [("points.debited", 90), ("points.restored", 210)])
def test_points_balance_follows_every_ledger_movement(feed, kind, balance):
    cid = feed.register()
    earned = {"entry_id": 1, "points": 150, "source": "transaction", "source_ref": "t", "balance": 150}
    feed.send("points.earned", cid, earned, source="loyalty")
    moved = {"entry_id": 2, "kind": "adjust", "points": 60, "source": "manual", "source_ref": None, "balance": balance}
    feed.send(kind, cid, moved, source="loyalty")
    assert feed.features(cid).points_balance == balance
