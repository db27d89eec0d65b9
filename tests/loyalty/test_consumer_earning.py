"""Earning from the profile feed: enrolment by agreement, rules by kind and channel, minimum amounts,
caps, multipliers, rule versions by time, claw-back on reversal, freezing; and the other feeds."""

import uuid

import pytest

from tests.loyalty import factories as f


def _statement(client, auth, cid):
    return client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"]


def test_loyalty_agreement_enrols_and_other_agreements_do_not(client, auth, loyalty_app):
    joined, other = str(uuid.uuid4()), str(uuid.uuid4())
    f.consumer(loyalty_app).apply(
        [
            f.event("customer.registered", joined, f.registered("BJ0001")),
            f.event("customer.registered", other, f.registered("BJ0001")),
            f.event("agreement.signed", joined, {"agreement_type": "loyalty_programme", "agreement_id": "a1"}),
            f.event("agreement.signed", other, {"agreement_type": "e_banking", "agreement_id": "a2"}),
            f.event("agreement.signed", joined, {"agreement_type": "loyalty_programme", "agreement_id": "a3"}),
        ]
    )
    body = client.get(f"/v1/loyalty/accounts/{joined}", headers=auth("staff")).json()
    assert (body["status"], body["enrolled_via"]) == ("active", "agreement")
    assert client.get(f"/v1/loyalty/accounts/{other}", headers=auth("staff")).status_code == 404


def test_transaction_earns_by_rate_rounded_down_and_is_on_the_statement(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    rule = f.rule(client, auth, points_per_100_cny=10)
    f.consumer(loyalty_app).apply([f.txn(cid, 123_456, external_id="EXT-1")])  # 1234.56 CNY -> 123.456 points
    [entry] = _statement(client, auth, cid)
    assert (
        entry["kind"],
        entry["points"],
        entry["source"],
        entry["source_ref"],
        entry["rule_id"],
        entry["rule_version"],
    ) == ("earn", 123, "transaction", "EXT-1", rule["id"], 1)
    assert entry["occurred_at"] == "2026-03-10T02:00:00Z"


def test_unenrolled_customer_and_unmatched_kind_earn_nothing(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, kind="deposit")
    f.consumer(loyalty_app).apply([f.txn(str(uuid.uuid4()), 100_000), f.txn(cid, 100_000, kind="withdrawal")])
    assert f.balance(client, auth, cid) == 0


def test_channel_rule_and_minimum_amount(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, channel="mobile", points_per_100_cny=10, min_amount="100.00")
    f.consumer(loyalty_app).apply(
        [
            f.txn(cid, 100_000, channel="counter"),  # wrong channel
            f.txn(cid, 9_999, channel="mobile"),  # below the minimum
            f.txn(cid, 10_000, channel="mobile"),  # exactly the minimum: 10 points
        ]
    )
    assert f.balance(client, auth, cid) == 10


def test_channel_and_segment_multipliers_combine(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(
        client,
        auth,
        points_per_100_cny=10,
        multipliers=[{"channel": "mobile", "factor": "2"}, {"segment": "asset_size:major", "factor": "1.5"}],
    )
    c = f.consumer(loyalty_app)
    c.apply([f.txn(cid, 100_000, channel="counter")])  # 100
    c.apply([f.txn(cid, 100_000, channel="mobile")])  # 200
    f.consumer(loyalty_app, "segmentation").apply(
        [
            f.event(
                "segment.changed",
                cid,
                {
                    "scheme": "asset_size",
                    "from_class": "mid_high",
                    "to_class": "major",
                    "changed_at": "2026-03-10T01:00:00Z",
                },
            )
        ]
    )
    c.apply([f.txn(cid, 100_000, channel="mobile")])  # 300
    c.apply([f.txn(cid, 100_000, channel="atm")])  # 150
    assert [e["points"] for e in _statement(client, auth, cid)] == [150, 300, 200, 100]
    f.consumer(loyalty_app, "segmentation").apply(
        [
            f.event(
                "segment.changed",
                cid,
                {"scheme": "asset_size", "from_class": "major", "to_class": None, "changed_at": "2026-03-10T01:00:00Z"},
            )
        ]
    )
    c.apply([f.txn(cid, 100_000, channel="atm")])
    assert _statement(client, auth, cid)[0]["points"] == 100


def test_daily_and_monthly_caps_per_customer_on_the_bank_calendar(client, auth, loyalty_app):
    cid, other = f.enrol(client, auth), f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10, daily_cap=150, monthly_cap=400)
    c = f.consumer(loyalty_app)
    c.apply(
        [
            f.txn(cid, 100_000, occurred_at="2026-03-10T02:00:00Z"),  # 100
            f.txn(cid, 100_000, occurred_at="2026-03-10T15:59:00Z"),  # 23:59 Beijing: capped to 50
            f.txn(cid, 100_000, occurred_at="2026-03-10T16:00:00Z"),  # next day in Beijing: 100
            f.txn(other, 100_000, occurred_at="2026-03-10T03:00:00Z"),
        ]
    )  # another customer: own cap
    assert f.balance(client, auth, cid) == 250 and f.balance(client, auth, other) == 100
    c.apply([f.txn(cid, 200_000, occurred_at=f"2026-03-{d}T02:00:00Z") for d in (12, 13, 14)])
    assert f.balance(client, auth, cid) == 400  # month capped
    c.apply([f.txn(cid, 100_000, occurred_at="2026-04-01T02:00:00Z")])
    assert f.balance(client, auth, cid) == 500  # a new month


def test_transactions_are_scored_by_the_rule_version_in_force_at_their_time(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    rule = f.rule(client, auth, points_per_100_cny=10, valid_from="2026-01-01T00:00:00Z")
    resp = client.put(
        f"/v1/loyalty/rules/{rule['id']}",
        headers={**auth("supervisor"), "If-Match": '"1"'},
        json={"kind": "deposit", "points_per_100_cny": 30, "valid_from": "2026-03-01T00:00:00Z"},
    )
    assert resp.status_code == 200, resp.text
    client.post(
        f"/v1/loyalty/rules/{rule['id']}/retire", json={"at": "2026-04-01T00:00:00Z"}, headers=auth("supervisor")
    )
    f.consumer(loyalty_app).apply(
        [
            f.txn(cid, 10_000, occurred_at="2025-12-31T23:00:00Z"),  # before the rule: nothing
            f.txn(cid, 10_000, occurred_at="2026-02-15T00:00:00Z"),  # version 1: 10
            f.txn(cid, 10_000, occurred_at="2026-03-15T00:00:00Z"),  # version 2: 30 (arrives late, scored by its time)
            f.txn(cid, 10_000, occurred_at="2026-04-02T00:00:00Z"),  # retired: nothing
        ]
    )
    assert [(e["points"], e["rule_version"]) for e in _statement(client, auth, cid)] == [(30, 2), (10, 1)]


def test_every_matching_rule_earns_on_its_own(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10)
    f.rule(client, auth, points_per_100_cny=5, channel="mobile", code="mobile-promo")
    f.consumer(loyalty_app).apply([f.txn(cid, 10_000, channel="mobile")])
    assert sorted(e["points"] for e in _statement(client, auth, cid)) == [5, 10]


def test_stacked_multipliers_stay_in_range(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10_000, multipliers=[{"channel": "mobile", "factor": "99.99"}] * 10)
    f.consumer(loyalty_app).apply([f.txn(cid, 10**15, channel="mobile")])
    assert f.balance(client, auth, cid) == 1_000_000_000


def test_replayed_events_earn_once(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10)
    events = [f.txn(cid, 10_000) for _ in range(3)]
    c = f.consumer(loyalty_app)
    assert c.apply(events) == 3
    assert c.apply(events) == 0 and f.consumer(loyalty_app).apply(events[1:]) == 0
    assert f.balance(client, auth, cid) == 30


def test_reversal_claws_back_from_the_transactions_own_points(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10)
    c = f.consumer(loyalty_app)
    c.apply([f.txn(cid, 100_000, external_id="EXT-A"), f.txn(cid, 50_000, external_id="EXT-B")])
    c.apply([f.txn(cid, 100_000, kind="reversal", external_id="EXT-R", reverses="EXT-A")])
    entries = _statement(client, auth, cid)
    assert (entries[0]["kind"], entries[0]["points"], entries[0]["balance_after"]) == ("reverse", -100, 50)
    c.apply([f.txn(cid, 100_000, kind="reversal", external_id="EXT-R2", reverses="EXT-A")])  # again: nothing
    c.apply([f.txn(cid, 1_000, kind="reversal", external_id="EXT-R3", reverses="EXT-UNKNOWN")])
    assert f.balance(client, auth, cid) == 50
    check = client.post("/v1/loyalty/ledger-checks", headers=auth("supervisor")).json()
    assert check["mismatches"] == []


def test_reversal_after_spending_takes_only_what_is_left(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10)
    c = f.consumer(loyalty_app)
    c.apply([f.txn(cid, 100_000, external_id="EXT-A")])
    client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments", json={"points": -70, "reason": "correction"}, headers=auth("staff")
    )
    c.apply([f.txn(cid, 100_000, kind="reversal", external_id="EXT-R", reverses="EXT-A")])
    top = _statement(client, auth, cid)[0]
    assert (top["points"], top["balance_after"]) == (-30, 0) and "70 points not recoverable" in top["reason"]


@pytest.mark.parametrize("etype", ["customer.closed", "customer.erased"])
def test_closed_or_erased_customer_is_frozen_and_stops_earning(client, auth, loyalty_app, etype):
    cid = f.funded(client, auth, 100)
    f.rule(client, auth, points_per_100_cny=10)
    f.consumer(loyalty_app).apply(
        [f.event(etype, cid, {"customer_no": "100000000016", "reason": "moved"}), f.txn(cid, 100_000)]
    )
    body = client.get(f"/v1/loyalty/accounts/{cid}", headers=auth("staff")).json()
    assert (body["status"], body["balance"], body["frozen_reason"]) == ("frozen", 100, etype.replace(".", "_"))
    resp = client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments", json={"points": 5, "reason": "goodwill"}, headers=auth("staff")
    )
    assert resp.status_code == 409 and resp.json()["code"] == "account_frozen"


def test_malformed_events_are_skipped_without_stalling_the_feed(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10)
    c = f.consumer(loyalty_app)
    naive = f.txn(cid, 10_000)
    naive.data["occurred_at"] = "2026-03-10T02:00:00"
    assert (
        c.apply(
            [
                f.event("transaction.recorded", cid, {"kind": "deposit"}),
                f.event("transaction.recorded", "not-a-uuid", {}),
                naive,
                f.event("segment.changed", cid, {"scheme": "x", "to_class": "y", "changed_at": "yesterday"}),
                f.txn(cid, 10_000),
            ]
        )
        == 5
    )
    assert f.balance(client, auth, cid) == 10


def test_points_earned_is_recorded_on_the_feed_and_counted_in_metrics(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10)
    f.consumer(loyalty_app).apply([f.txn(cid, 10_000, external_id="EXT-M")])
    feed = client.get("/v1/events", headers=auth("system")).json()["items"]
    [earned] = [e for e in feed if e["type"] == "points.earned"]
    assert earned["subject_id"] == cid and earned["data"]["points"] == 10 and earned["data"]["balance"] == 10
    assert (earned["data"]["source"], earned["data"]["source_ref"]) == ("transaction", "EXT-M")
    metrics = client.get("/metrics").text
    assert 'loyalty_points_issued_total{source="transaction"} 10.0' in metrics


def test_a_batch_mixing_earnings_with_other_events_applies_them_in_feed_order(client, auth, loyalty_app):
    """A batch's earnings are written together (keys, entries, lots, balances, at its end or before any
    other handler); a reversal, a freeze or an adjustment in the same batch still sees every earning
    before it, and the ledger, the lots, the balances and the feed come out as if each event had been
    applied on its own, entries numbered in feed order."""
    a, b = f.enrol(client, auth), f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10)
    applied = f.consumer(loyalty_app).apply(
        [
            f.txn(a, 100_000, external_id="A1"),  # a: 100
            f.txn(b, 50_000, external_id="B1"),  # b: 50
            f.txn(a, 100_000, kind="reversal", external_id="A1R", reverses="A1"),  # a: 0
            f.txn(a, 20_000, external_id="A2"),  # a: 20
            f.event("customer.closed", b, {"customer_no": "100000000016", "reason": "moved"}),
            f.txn(b, 100_000, external_id="B2"),  # b is frozen: nothing
            f.txn(a, 30_000, external_id="A3"),  # a: 50
        ]
    )
    assert applied == 7
    entries = list(reversed(_statement(client, auth, a)))
    assert [(e["kind"], e["points"], e["balance_after"], e["source_ref"]) for e in entries] == [
        ("earn", 100, 100, "A1"),
        ("reverse", -100, 0, "A1R"),
        ("earn", 20, 20, "A2"),
        ("earn", 30, 50, "A3"),
    ]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    body = client.get(f"/v1/loyalty/accounts/{b}", headers=auth("staff")).json()
    assert (body["status"], body["balance"]) == ("frozen", 50)
    assert [e["source_ref"] for e in _statement(client, auth, b)] == ["B1"]
    check = client.post("/v1/loyalty/ledger-checks", headers=auth("supervisor")).json()
    assert check["mismatches"] == []
    feed = client.get("/v1/events", headers=auth("system")).json()["items"]
    moves = [(e["type"], e["data"]["entry_id"], e["data"]["balance"]) for e in feed if e["subject_id"] == a]
    assert moves == [
        ("points.earned", entries[0]["id"], 100),
        ("points.debited", entries[1]["id"], 0),
        ("points.earned", entries[2]["id"], 20),
        ("points.earned", entries[3]["id"], 50),
    ]
    assert len({e["event_id"] for e in feed}) == len(feed)


def test_a_batch_that_fails_leaves_no_earning_behind(client, auth, loyalty_app, monkeypatch):
    """Earnings written at the batch's end roll back with it: nothing of a failed batch stays, and the
    batch applied again earns once."""
    cid = f.enrol(client, auth)
    f.rule(client, auth, points_per_100_cny=10)
    c = f.consumer(loyalty_app)
    events = [f.txn(cid, 10_000), f.txn(cid, 20_000)]
    from services.loyalty.service import ledger

    def broken(_s):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as m:
        m.setattr(ledger, "serialise_outbox_writes", lambda *_: broken(None))
        with pytest.raises(RuntimeError):
            c.apply(events)
    assert f.balance(client, auth, cid) == 0 and _statement(client, auth, cid) == []
    assert c.apply(events) == 2
    assert f.balance(client, auth, cid) == 30


def test_a_customer_enrolled_by_agreement_mid_batch_earns_from_then_on(client, auth, loyalty_app):
    """The batch's accounts are read once when its first event is handled: a customer without an account
    then is noted as such, until an enrolment in the same batch opens one."""
    f.rule(client, auth, points_per_100_cny=10)
    cid = str(uuid.uuid4())
    f.consumer(loyalty_app).apply(
        [
            f.event("customer.registered", cid, f.registered("BJ0001")),
            f.txn(cid, 100_000, external_id="BEFORE"),  # not enrolled yet: nothing
            f.event("agreement.signed", cid, {"agreement_type": "loyalty_programme", "agreement_id": "a1"}),
            f.txn(cid, 20_000, external_id="AFTER"),  # 20
        ]
    )
    assert f.balance(client, auth, cid) == 20
    assert [e["source_ref"] for e in _statement(client, auth, cid)] == ["AFTER"]
