"""Branch scope in segmentation: a customer's branch is its feature row's, from profile's feed; staff
and supervisors get 404 for a customer outside their subtree, and segment members, targets,
previews, class members, the class analyses and the migration matrix count only their subtree's customers. On both
databases."""

from datetime import timedelta

from tests.segmentation.conftest import NOW

INSIDE, OUTSIDE = "BJ0001", "OT0001"  # below BR0001 (the default staff token's branch), and not


def _people(feed) -> tuple[str, str]:
    inside = feed.register(region="urban", branch=INSIDE, at=NOW - timedelta(days=900))
    outside = feed.register(region="urban", branch=OUTSIDE, at=NOW - timedelta(days=900))
    for customer in (inside, outside):
        feed.assets(customer, 600_000_000)
        feed.consent(customer, ["sms"])
    return inside, outside


def _ids(resp) -> set[str]:
    assert resp.status_code == 200, resp.text
    return {m["customer_id"] for m in resp.json()["items"]}


def test_a_customer_out_of_branch_is_404_and_left_out_of_members_and_targets(client, auth, feed):
    inside, outside = _people(feed)
    staff, admin = auth("staff"), auth("admin")
    resp = client.get("/v1/memberships", params={"customer_id": outside}, headers=staff)
    assert (resp.status_code, resp.json()["code"]) == (404, "customer_not_found")
    assert client.get("/v1/memberships", params={"customer_id": inside}, headers=staff).status_code == 200
    rule = {"field": "aum", "op": "gte", "value": "500000.00"}
    sid = client.post("/v1/segments", json={"name": "wealthy", "rule": rule}, headers=admin).json()["id"]
    members = f"/v1/segments/{sid}/members?purpose=analysis"
    assert _ids(client.get(members, headers=staff)) == {inside}
    assert _ids(client.get(members, headers=auth("staff", branch="CT0002"))) == {outside}
    assert _ids(client.get(members, headers=admin)) == {inside, outside}
    targets = f"/v1/segments/{sid}/targets?purpose=marketing"
    assert _ids(client.get(targets, headers=staff)) == {inside}
    classes = "/v1/segments/classes/asset_size/major/members?purpose=analysis"
    assert _ids(client.get(classes, headers=staff)) == {inside}
    preview = client.post("/v1/segments/preview", json={"rule": rule}, headers=staff).json()
    assert (preview["count"], preview["sample"]) == (1, [inside])
    assert client.post("/v1/segments/preview", json={"rule": rule}, headers=admin).json()["count"] == 2


def test_class_analyses_count_only_the_subtree(client, auth, feed):
    _people(feed)

    def major(headers) -> int:
        items = client.get("/v1/segments/analysis/classes", headers=headers).json()["items"]
        return next(i["customers"] for i in items if (i["scheme"], i["class"]) == ("asset_size", "major"))

    assert (major(auth("staff")), major(auth("admin"))) == (1, 2)
    cells = client.get("/v1/segments/analysis/cross-tab", headers=auth("staff")).json()["items"]
    assert sum(c["customers"] for c in cells) == 1
    dormant = client.get("/v1/segments/analysis/dormant-by-branch", headers=auth("staff")).json()["items"]
    assert {b["branch_code"] for b in dormant} <= {INSIDE}
    nobody = auth("staff", branch=None)
    assert major(nobody) == 0


def test_migration_matrix_counts_only_the_subtree(client, auth, feed, clock):
    inside = feed.register(branch=INSIDE)
    outside = feed.register(branch=OUTSIDE)
    other = feed.register(branch=OUTSIDE)
    clock.advance(days=2)
    for customer in (inside, outside, other):
        feed.assets(customer, 600_000_000)
    start, end = NOW.date().isoformat(), (NOW.date() + timedelta(days=2)).isoformat()
    url = f"/v1/segments/analysis/migrations?scheme=asset_size&from_date={start}&to_date={end}"

    def cells(headers) -> list[tuple[str, str, int]]:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        return [(c["from_class"], c["to_class"], c["customers"]) for c in resp.json()["items"]]

    assert cells(auth("staff")) == [("ordinary", "major", 1)]
    assert cells(auth("supervisor")) == [("ordinary", "major", 1)]
    assert cells(auth("staff", branch="CT0002")) == [("ordinary", "major", 2)]
    assert cells(auth("admin")) == [("ordinary", "major", 3)]
    assert cells(auth("system")) == [("ordinary", "major", 3)]
    assert cells(auth("staff", branch=None)) == []
