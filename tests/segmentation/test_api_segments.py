"""Rule segments: every operator, bad rules as 422s pointing at the node, preview, versions, members,
targeted lists, and the roles allowed on each route."""

from datetime import timedelta

import pytest

from tests.segmentation.conftest import NOW

MISSING = "00000000-0000-4000-8000-0000000000aa"


@pytest.fixture
def people(feed):
    """Three customers: rich urban C4 with sms consent, middling rural, poor enterprise in branch BJ0002."""
    rich = feed.register(region="urban", at=NOW - timedelta(days=500))
    feed.assets(rich, 600_000_000)
    feed.risk(rich, "C4")
    feed.consent(rich, ["sms"])
    for i in range(3):
        feed.transaction(rich, at=NOW - timedelta(days=i))
    mid = feed.register(region="rural", at=NOW - timedelta(days=10))
    feed.assets(mid, 60_000_000)
    feed.consent(mid, ["email"])
    poor = feed.register(type="enterprise", region="peri_urban", branch="BJ0002", at=NOW - timedelta(days=1000))
    return {"rich": rich, "mid": mid, "poor": poor}


def preview(client, auth, rule):
    return client.post("/v1/segments/preview", json={"rule": rule}, headers=auth("staff"))


OPERATOR_CASES = [
    ({"field": "type", "op": "eq", "value": "enterprise"}, {"poor"}),
    ({"field": "region_type", "op": "ne", "value": "urban"}, {"mid", "poor"}),
    ({"field": "branch_code", "op": "in", "value": ["BJ0002", "XX01"]}, {"poor"}),
    ({"field": "aum", "op": "gt", "value": "600000.00"}, {"rich"}),
    ({"field": "aum", "op": "gte", "value": "600000.00"}, {"rich", "mid"}),
    ({"field": "aum", "op": "lt", "value": "600000.00"}, {"poor"}),
    ({"field": "aum", "op": "lte", "value": "600000.00"}, {"mid", "poor"}),
    ({"field": "aum", "op": "between", "value": ["0.00", "600000.00"]}, {"mid", "poor"}),
    ({"field": "risk_level", "op": "is_null", "value": True}, {"mid", "poor"}),
    ({"field": "risk_level", "op": "is_null", "value": False}, {"rich"}),
    ({"field": "risk_level", "op": "gte", "value": "C3"}, {"rich"}),
    ({"field": "tenure_days", "op": "gte", "value": 500}, {"rich", "poor"}),
    ({"field": "tenure_days", "op": "eq", "value": 10}, {"mid"}),
    ({"field": "tenure_days", "op": "between", "value": [11, 999]}, {"rich"}),
    ({"field": "txn_count_30", "op": "gte", "value": 3}, {"rich"}),
    ({"field": "last_txn_at", "op": "gte", "value": "2026-11-01T00:00:00Z"}, {"rich"}),
    ({"field": "is_marketing_contactable", "op": "eq", "value": True}, {"rich", "mid"}),
    ({"field": "asset_size_class", "op": "in", "value": ["major", "mid_high"]}, {"rich", "mid"}),
    (
        {
            "all": [
                {"field": "aum", "op": "gt", "value": "0.00"},
                {"field": "region_type", "op": "eq", "value": "rural"},
            ]
        },
        {"mid"},
    ),
    (
        {
            "any": [
                {"field": "type", "op": "eq", "value": "enterprise"},
                {"field": "region_type", "op": "eq", "value": "rural"},
            ]
        },
        {"mid", "poor"},
    ),
    ({"not": {"field": "type", "op": "eq", "value": "individual"}}, {"poor"}),
]


def test_every_operator_selects_the_right_customers(client, auth, people):
    for rule, who in OPERATOR_CASES:  # one data set for all cases: setting it up is the slow part
        r = preview(client, auth, rule)
        assert r.status_code == 200, (rule, r.text)
        assert set(r.json()["sample"]) == {people[k] for k in who} and r.json()["count"] == len(who), rule


BAD_RULES = [
    (
        {"all": [{"field": "aum", "op": "gt", "value": "1.00"}, {"field": "shoe_size", "op": "eq", "value": 1}]},
        ["body", "rule", "all", 1, "field"],
    ),
    ({"field": "aum", "op": "like", "value": "1"}, ["body", "rule", "op"]),
    ({"field": "aum", "op": "gt", "value": 12.5}, ["body", "rule", "value"]),
    ({"field": "aum", "op": "gt", "value": "1.234"}, ["body", "rule", "value"]),
    ({"field": "txn_count_30", "op": "eq", "value": "3"}, ["body", "rule", "value"]),
    ({"field": "txn_count_30", "op": "eq", "value": True}, ["body", "rule", "value"]),
    ({"field": "type", "op": "eq", "value": "alien"}, ["body", "rule", "value"]),
    ({"field": "type", "op": "gt", "value": "individual"}, ["body", "rule", "op"]),
    ({"field": "city", "op": "in", "value": []}, ["body", "rule", "value"]),
    ({"field": "city", "op": "in", "value": ["北京", 3]}, ["body", "rule", "value", 1]),
    ({"field": "aum", "op": "between", "value": ["5.00"]}, ["body", "rule", "value"]),
    ({"field": "aum", "op": "between", "value": ["5.00", "1.00"]}, ["body", "rule", "value"]),
    ({"field": "aum", "op": "is_null", "value": "yes"}, ["body", "rule", "value"]),
    ({"field": "aum", "op": "eq"}, ["body", "rule", "value"]),
    ({"field": "last_txn_at", "op": "gt", "value": "2026-01-01T00:00:00"}, ["body", "rule", "value"]),
    ({"field": "is_marketing_contactable", "op": "eq", "value": 1}, ["body", "rule", "value"]),
    ({"field": "aum", "op": "eq", "value": "1.00", "extra": 1}, ["body", "rule", "extra"]),
    ({"any": []}, ["body", "rule", "any"]),
    ({"not": [1]}, ["body", "rule", "not"]),
    ({"all": [{"field": "aum", "op": "eq", "value": "1.00"}], "any": []}, ["body", "rule"]),
    ({"field": "tenure_days", "op": "gt", "value": 10**9}, ["body", "rule", "value"]),
    ({"field": "aum", "op": "gt", "value": "1e999999999"}, ["body", "rule", "value"]),
    ({"field": "last_txn_at", "op": "gt", "value": "0001-01-01T00:00:00+14:00"}, ["body", "rule", "value"]),
]


def test_bad_rules_are_422_pointing_at_the_node(client, auth):
    for rule, loc in BAD_RULES:
        r = preview(client, auth, rule)
        assert r.status_code == 422, (rule, r.text)
        body = r.json()
        assert body["code"] == "rule_invalid" and loc in [e["loc"] for e in body["errors"]], (rule, body)


def test_too_deep_a_rule_is_refused(client, auth):
    rule = {"field": "aum", "op": "gt", "value": "1.00"}
    for _ in range(20):
        rule = {"not": rule}
    assert preview(client, auth, rule).status_code == 422


def test_segment_lifecycle_versions_members_and_events(client, auth, people, feed):
    rule = {"field": "aum", "op": "gte", "value": "500000.00"}
    r = client.post("/v1/segments", json={"name": "wealthy", "rule": rule}, headers=auth("staff"))
    assert r.status_code == 201, r.text
    seg = r.json()
    assert seg["version"] == 1 and r.headers["ETag"] == '"1"'
    sid = seg["id"]
    members = client.get(f"/v1/segments/{sid}/members?purpose=analysis", headers=auth("staff")).json()
    assert {m["customer_id"] for m in members["items"]} == {people["rich"], people["mid"]}
    assert any(e.data["scheme"] == f"rule:{sid}" and e.data["to_class"] == "member" for e in feed.outbox())
    # a new member arrives with an event, incrementally
    feed.assets(people["poor"], 100_000_000)
    assert (
        client.get(f"/v1/segments/{sid}/members?purpose=analysis", headers=auth("staff")).json()["items"].__len__() == 3
    )
    stale = client.patch(f"/v1/segments/{sid}", json={"rule": rule}, headers={**auth("staff"), "If-Match": '"7"'})
    assert stale.status_code == 412
    assert client.patch(f"/v1/segments/{sid}", json={"rule": rule}, headers=auth("staff")).status_code == 428
    new_rule = {"field": "aum", "op": "gte", "value": "5000000.00"}
    r = client.patch(
        f"/v1/segments/{sid}",
        json={"rule": new_rule, "description": "top"},
        headers={**auth("staff"), "If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["description"] == "top"
    members = client.get(f"/v1/segments/{sid}/members?purpose=analysis", headers=auth("staff")).json()
    assert [m["customer_id"] for m in members["items"]] == [people["rich"]]
    left = [c for c in feed.changes(people["mid"]) if c.scheme == f"rule:{sid}"]
    assert [(c.from_class, c.to_class) for c in left] == [(None, "member"), ("member", None)]
    versions = client.get(f"/v1/segments/{sid}/versions", headers=auth("staff")).json()["items"]
    assert [(v["version"], v["rule"]) for v in versions] == [(2, new_rule), (1, rule)]
    got = client.get(f"/v1/segments/{sid}", headers=auth("system"))
    assert got.status_code == 200 and got.headers["ETag"] == '"2"'
    listed = client.get("/v1/segments", headers=auth("staff")).json()
    assert [s["name"] for s in listed["items"]] == ["wealthy"]


def test_members_are_cursor_paginated(client, auth, people):
    rule = {"field": "type", "op": "in", "value": ["individual", "enterprise"]}
    sid = client.post("/v1/segments", json={"name": "all", "rule": rule}, headers=auth("staff")).json()["id"]
    seen, cursor = [], None
    while True:
        q = f"&limit=2&cursor={cursor}" if cursor else "&limit=2"
        page = client.get(f"/v1/segments/{sid}/members?purpose=analysis{q}", headers=auth("staff")).json()
        seen += [m["customer_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(people.values())


def test_targets_are_members_who_may_be_contacted(client, auth, people):
    rule = {"field": "type", "op": "eq", "value": "individual"}
    sid = client.post("/v1/segments", json={"name": "people", "rule": rule}, headers=auth("staff")).json()["id"]
    ids = lambda r: {m["customer_id"] for m in r.json()["items"]}  # noqa: E731
    assert ids(client.get(f"/v1/segments/{sid}/targets?purpose=marketing", headers=auth("staff"))) == {
        people["rich"],
        people["mid"],
    }
    assert ids(client.get(f"/v1/segments/{sid}/targets?purpose=marketing&channel=sms", headers=auth("staff"))) == {
        people["rich"]
    }
    assert (
        ids(client.get(f"/v1/segments/{sid}/targets?purpose=marketing&channel=app_push", headers=auth("staff")))
        == set()
    )


def test_duplicate_name_is_409(client, auth):
    body = {"name": "dup", "rule": {"field": "aum", "op": "gt", "value": "0.00"}}
    assert client.post("/v1/segments", json=body, headers=auth("staff")).status_code == 201
    r = client.post("/v1/segments", json=body, headers=auth("staff"))
    assert r.status_code == 409 and r.json()["code"] == "segment_name_taken"
    other = client.post("/v1/segments", json=body | {"name": "other"}, headers=auth("staff")).json()
    r = client.patch(f"/v1/segments/{other['id']}", json={"name": "dup"}, headers={**auth("staff"), "If-Match": '"1"'})
    assert r.status_code == 409 and r.json()["code"] == "segment_name_taken"


def test_unknown_fields_and_bad_rules_on_create_are_422(client, auth):
    r = client.post(
        "/v1/segments",
        json={"name": "x", "rule": {"field": "nope", "op": "eq", "value": 1}, "zz": 1},
        headers=auth("staff"),
    )
    assert r.status_code == 422 and ["body", "zz"] in [e["loc"] for e in r.json()["errors"]]
    r = client.post(
        "/v1/segments", json={"name": "x", "rule": {"field": "nope", "op": "eq", "value": 1}}, headers=auth("staff")
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "rule", "field"]


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/segments/{MISSING}",
        f"/v1/segments/{MISSING}/versions",
        f"/v1/segments/{MISSING}/members?purpose=analysis",
        f"/v1/segments/{MISSING}/targets?purpose=marketing",
    ],
)
def test_unknown_segment_is_404(client, auth, path):
    r = client.get(path, headers=auth("staff"))
    assert r.status_code == 404 and r.json()["code"] == "segment_not_found"


def test_patch_unknown_segment_is_404(client, auth):
    r = client.patch(f"/v1/segments/{MISSING}", json={"name": "n"}, headers={**auth("staff"), "If-Match": '"1"'})
    assert r.status_code == 404


MANAGE = [
    ("post", "/v1/segments/preview", {"rule": {"field": "aum", "op": "gt", "value": "0.00"}}),
    ("post", "/v1/segments", {"name": "n", "rule": {"field": "aum", "op": "gt", "value": "0.00"}}),
    ("get", f"/v1/segments/{MISSING}/targets?purpose=marketing", None),
]


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [(role, *m) for role in ("customer", "system") for m in MANAGE] + [("customer", "get", "/v1/segments", None)],
)
def test_customers_and_systems_may_not_manage_segments(client, auth, role, method, path, body):
    r = client.request(method, path, json=body, headers=auth(role))
    assert r.status_code == 403
    assert client.request(method, path, json=body).status_code == 401


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_staff_roles_may_preview(client, auth, role):
    assert preview(client, auth, {"field": "aum", "op": "gt", "value": "0.00"}).status_code == 200


def test_class_members_list_a_built_in_class(client, auth, people):
    r = client.get("/v1/segments/classes/asset_size/major/members?purpose=analysis", headers=auth("staff"))
    assert r.status_code == 200 and [m["customer_id"] for m in r.json()["items"]] == [people["rich"]]
    assert r.json()["items"][0]["aum"] == "6000000.00"
    bad = client.get("/v1/segments/classes/asset_size/huge/members?purpose=analysis", headers=auth("staff"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["path", "class_"]
    assert (
        client.get("/v1/segments/classes/colour/red/members?purpose=analysis", headers=auth("staff")).status_code == 422
    )
    assert (
        client.get(
            "/v1/segments/classes/asset_size/major/members?purpose=analysis", headers=auth("customer")
        ).status_code
        == 403
    )
