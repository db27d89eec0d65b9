"""A customer's classes, segments, features and history; the analysis views."""

from datetime import timedelta

import pytest

from tests.segmentation.conftest import NOW

MISSING = "00000000-0000-4000-8000-0000000000bb"


def test_memberships_show_classes_segments_and_features(client, auth, feed):
    cid = feed.register(at=NOW - timedelta(days=100))
    feed.assets(cid, 60_000_000)
    feed.transaction(cid, amount_fen=12345)
    client.post(
        "/v1/segments",
        json={"name": "some", "rule": {"field": "aum", "op": "gt", "value": "0.00"}},
        headers=auth("staff"),
    )
    r = client.get(f"/v1/memberships?customer_id={cid}", headers=auth("staff"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["classes"] == {
        "customer_type": "individual",
        "region": "urban",
        "asset_size": "mid_high",
        "behaviour": "potential",
    }
    assert [s["name"] for s in body["segments"]] == ["some"]
    f = body["features"]
    assert (f["aum"], f["txn_amount_30"], f["txn_count_365"], f["tenure_days"]) == ("600000.00", "123.45", 1, 100)


def test_history_is_newest_first_and_paginated(client, auth, feed):
    cid = feed.register()
    feed.assets(cid, 60_000_000)
    feed.assets(cid, 600_000_000)
    first = client.get(f"/v1/memberships/history?customer_id={cid}&limit=2", headers=auth("system")).json()
    assert [(c["scheme"], c["from_class"], c["to_class"]) for c in first["items"]] == [
        ("asset_size", "mid_high", "major"),
        ("asset_size", "ordinary", "mid_high"),
    ]
    rest = client.get(
        f"/v1/memberships/history?customer_id={cid}&limit=50&cursor={first['next_cursor']}", headers=auth("system")
    ).json()
    assert len(rest["items"]) == 4 and rest["next_cursor"] is None


@pytest.mark.parametrize("path", ["/v1/memberships", "/v1/memberships/history"])
def test_unknown_customer_is_404_and_bad_id_422(client, auth, path):
    r = client.get(f"{path}?customer_id={MISSING}", headers=auth("staff"))
    assert r.status_code == 404 and r.json()["code"] == "customer_not_found"
    r = client.get(f"{path}?customer_id=nope", headers=auth("staff"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "customer_id"]
    assert client.get(path, headers=auth("staff")).status_code == 422


@pytest.mark.parametrize("path", ["/v1/memberships", "/v1/memberships/history"])
def test_customers_may_not_read_memberships(client, auth, path):
    assert client.get(f"{path}?customer_id={MISSING}", headers=auth("customer", sub=MISSING)).status_code == 403
    assert client.get(f"{path}?customer_id={MISSING}").status_code == 401


def _population(feed):
    a = feed.register(region="urban", branch="BR0001", at=NOW - timedelta(days=900))
    feed.assets(a, 600_000_000)
    b = feed.register(region="rural", branch="BJ0002", at=NOW - timedelta(days=900))
    c = feed.register(region="rural", branch="BJ0002", at=NOW - timedelta(days=900))
    feed.assets(c, 100)
    return a, b, c


def test_class_summary_counts_and_sums_every_class(client, auth, feed):
    _population(feed)
    items = client.get("/v1/segments/analysis/classes", headers=auth("staff")).json()["items"]
    got = {(i["scheme"], i["class"]): (i["customers"], i["total_aum"]) for i in items}
    assert got[("asset_size", "major")] == (1, "6000000.00")
    assert got[("asset_size", "ordinary")] == (2, "1.00")
    assert got[("behaviour", "dormant")] == (3, "6000001.00")
    assert got[("customer_type", "interbank")] == (0, "0.00")
    assert len(items) == 13


def test_cross_tab_and_dormant_by_branch(client, auth, feed):
    _population(feed)
    cells = client.get("/v1/segments/analysis/cross-tab", headers=auth("staff")).json()["items"]
    got = {(c["region"], c["asset_size"]): c["customers"] for c in cells}
    assert got[("urban", "major")] == 1 and got[("rural", "ordinary")] == 2 and len(cells) == 12
    branches = client.get("/v1/segments/analysis/dormant-by-branch", headers=auth("staff")).json()["items"]
    assert [(b["branch_code"], b["customers"]) for b in branches] == [("BJ0002", 2), ("BR0001", 1)]


def test_migration_matrix_between_two_dates(client, auth, feed, clock):
    a = feed.register()
    clock.advance(days=2)
    feed.assets(a, 600_000_000)
    start, end = (NOW.date()).isoformat(), (NOW.date() + timedelta(days=2)).isoformat()
    r = client.get(
        f"/v1/segments/analysis/migrations?scheme=asset_size&from_date={start}&to_date={end}", headers=auth("staff")
    )
    assert r.status_code == 200, r.text
    assert r.json()["items"] == [{"from_class": "ordinary", "to_class": "major", "customers": 1}]
    r = client.get(
        f"/v1/segments/analysis/migrations?scheme=asset_size&from_date={end}&to_date={start}", headers=auth("staff")
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "to_date"]
    r = client.get(
        "/v1/segments/analysis/migrations?scheme=asset_size&from_date=0001-01-01&to_date=9999-12-31",
        headers=auth("staff"),
    )
    assert r.status_code == 200 and r.json()["items"] == [{"from_class": None, "to_class": "major", "customers": 1}]


ANALYSIS = [
    "/v1/segments/analysis/classes",
    "/v1/segments/analysis/cross-tab",
    "/v1/segments/analysis/dormant-by-branch",
    "/v1/segments/analysis/migrations?scheme=region&from_date=2026-01-01&to_date=2026-02-01",
]


@pytest.mark.parametrize(
    ("role", "status"),
    [("customer", 403), ("staff", 200), ("supervisor", 200), ("admin", 200), ("system", 200), (None, 401)],
)
def test_analysis_roles(client, auth, role, status):
    for path in ANALYSIS:
        assert client.get(path, headers=auth(role) if role else {}).status_code == status, path


def test_segment_changed_is_served_on_the_event_feed(client, auth, feed):
    cid = feed.register()
    r = client.get("/v1/events?after=0", headers=auth("system"))
    assert r.status_code == 200
    items = r.json()["items"]
    assert {(e["type"], e["subject_id"]) for e in items} == {("segment.changed", cid)}
    assert sorted(e["data"]["scheme"] for e in items) == ["asset_size", "behaviour", "customer_type", "region"]
    assert client.get("/v1/events?after=0", headers=auth("staff")).status_code == 403


def test_readiness_includes_each_configured_feed(seg_db, clock):
    from services.segmentation.app import create_app
    from tests.segmentation.conftest import segmentation_settings

    app = create_app(
        segmentation_settings(seg_db.url, profile_feed_url="http://127.0.0.1:9/v1/events"), db=seg_db, clock=clock
    )
    assert set(app.state.consumers) == {"profile"}
    assert "profile_feed" in app.state.ready_checks
