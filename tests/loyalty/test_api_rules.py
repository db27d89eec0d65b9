"""Earning rules: create, read, list, change as a version, retire; bad input, versions, roles."""

import uuid

import pytest

from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY


def test_create_rule_as_supervisor_returns_it_with_version_1(client, auth):
    resp = client.post(
        "/v1/loyalty/rules",
        headers=auth("supervisor", sub="sup-1"),
        json={
            "code": "deposit-base",
            "name": "Deposits",
            "kind": "deposit",
            "channel": "counter",
            "points_per_100_cny": 5,
            "min_amount": "50.00",
            "daily_cap": 500,
            "monthly_cap": 5000,
            "multipliers": [{"segment": "asset_size:major", "factor": "1.5"}],
            "valid_from": "2026-01-01T08:00:00+08:00",
        },
    )
    assert resp.status_code == 201 and resp.headers["etag"] == '"1"'
    body = resp.json()
    assert (body["code"], body["version"], body["retired_at"]) == ("deposit-base", 1, None)
    [v] = body["versions"]
    assert v["valid_from"] == "2026-01-01T00:00:00Z" and v["valid_until"] is None
    assert (v["min_amount"], v["daily_cap"], v["monthly_cap"], v["actor_sub"]) == ("50.00", 500, 5000, "sup-1")
    assert v["multipliers"] == [{"channel": None, "segment": "asset_size:major", "factor": "1.50"}]
    read = client.get(f"/v1/loyalty/rules/{body['id']}", headers=auth("staff"))
    assert read.status_code == 200 and read.json() == body


def test_create_rule_with_taken_code_is_409(client, auth):
    f.rule(client, auth, code="dup")
    resp = client.post(
        "/v1/loyalty/rules",
        headers=auth("supervisor"),
        json={"code": "dup", "name": "again", "kind": "deposit", "points_per_100_cny": 1},
    )
    assert resp.status_code == 409 and resp.json()["code"] == "rule_code_taken"


@SQLITE_ONLY
@pytest.mark.parametrize(
    "change, field",
    [
        ({"kind": "reversal"}, "kind"),
        ({"kind": "teleport"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"points_per_100_cny": -1}, "points_per_100_cny"),
        ({"points_per_100_cny": 1.5}, "points_per_100_cny"),
        ({"min_amount": "10"}, "min_amount"),
        ({"min_amount": "-1.00"}, "min_amount"),
        ({"daily_cap": 0}, "daily_cap"),
        ({"monthly_cap": -5}, "monthly_cap"),
        ({"code": "Has Spaces"}, "code"),
        ({"name": ""}, "name"),
        ({"valid_from": "2026-01-01T00:00:00"}, "valid_from"),
        ({"valid_from": "1970-01-01T00:00:00Z"}, "valid_from"),
        ({"valid_until": "2025-01-01T00:00:00Z"}, "valid_until"),
        ({"multipliers": [{"factor": "2"}]}, "multipliers"),
        ({"multipliers": [{"channel": "mobile", "factor": "0"}]}, "multipliers"),
        ({"multipliers": [{"channel": "mobile", "factor": "1.234"}]}, "multipliers"),
        ({"multipliers": [{"segment": "nocolon", "factor": "2"}]}, "multipliers"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_create_rule_bad_input_is_422_naming_the_field(client, auth, change, field):
    body = {
        "code": "ok-code",
        "name": "ok",
        "kind": "deposit",
        "points_per_100_cny": 1,
        "valid_from": "2026-01-01T00:00:00Z",
        **change,
    }
    resp = client.post("/v1/loyalty/rules", json=body, headers=auth("supervisor"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["loc"][:2] == ["body", field]


@SQLITE_ONLY
@pytest.mark.parametrize("role", ["customer", "staff", "system"])
def test_create_rule_as_non_supervisor_is_403(client, auth, role):
    resp = client.post(
        "/v1/loyalty/rules",
        headers=auth(role),
        json={"code": "x1", "name": "x", "kind": "deposit", "points_per_100_cny": 1},
    )
    assert resp.status_code == 403


@SQLITE_ONLY
def test_rules_without_token_are_401(client):
    assert client.get("/v1/loyalty/rules").status_code == 401


def test_change_rule_adds_a_version_and_closes_the_previous(client, auth):
    rule = f.rule(client, auth, points_per_100_cny=10)
    resp = client.put(
        f"/v1/loyalty/rules/{rule['id']}",
        headers={**auth("supervisor"), "If-Match": '"1"'},
        json={"name": "Deposits v2", "kind": "deposit", "points_per_100_cny": 20, "valid_from": "2026-02-01T00:00:00Z"},
    )
    assert resp.status_code == 200 and resp.headers["etag"] == '"2"'
    body = resp.json()
    assert body["name"] == "Deposits v2" and body["version"] == 2
    assert [(v["version"], v["points_per_100_cny"], v["valid_from"], v["valid_until"]) for v in body["versions"]] == [
        (1, 10, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        (2, 20, "2026-02-01T00:00:00Z", None),
    ]


def test_change_rule_version_errors(client, auth):
    rule = f.rule(client, auth)
    url, body = f"/v1/loyalty/rules/{rule['id']}", {"kind": "deposit", "points_per_100_cny": 2}
    assert client.put(url, json=body, headers=auth("supervisor")).status_code == 428
    resp = client.put(url, json=body, headers={**auth("supervisor"), "If-Match": '"7"'})
    assert resp.status_code == 412 and resp.json()["current_version"] == 1
    resp = client.put(
        url, json={**body, "valid_from": "2025-06-01T00:00:00Z"}, headers={**auth("supervisor"), "If-Match": '"1"'}
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "valid_from"]
    resp = client.put(f"/v1/loyalty/rules/{uuid.uuid4()}", json=body, headers={**auth("supervisor"), "If-Match": '"1"'})
    assert resp.status_code == 404 and resp.json()["code"] == "rule_not_found"
    assert client.put(url, json=body, headers={**auth("staff"), "If-Match": '"1"'}).status_code == 403
    assert client.put(url, json=body, headers={**auth("supervisor"), "If-Match": "nope"}).status_code == 422


def test_retire_rule_then_changes_are_409_and_it_leaves_the_default_list(client, auth):
    rule = f.rule(client, auth)
    resp = client.post(f"/v1/loyalty/rules/{rule['id']}/retire", headers=auth("supervisor"))
    assert resp.status_code == 200 and resp.json()["retired_at"] is not None
    assert resp.json()["versions"][0]["valid_until"] == resp.json()["retired_at"]
    again = client.post(f"/v1/loyalty/rules/{rule['id']}/retire", headers=auth("supervisor"))
    assert again.status_code == 409 and again.json()["code"] == "rule_retired"
    resp = client.put(
        f"/v1/loyalty/rules/{rule['id']}",
        json={"kind": "deposit", "points_per_100_cny": 2},
        headers={**auth("supervisor"), "If-Match": '"2"'},
    )
    assert resp.status_code == 409
    assert client.get("/v1/loyalty/rules", headers=auth("staff")).json()["items"] == []
    listed = client.get("/v1/loyalty/rules", params={"include_retired": True}, headers=auth("system")).json()
    assert [r["id"] for r in listed["items"]] == [rule["id"]]


def test_retire_rule_errors(client, auth):
    rule = f.rule(client, auth)
    url = f"/v1/loyalty/rules/{rule['id']}/retire"
    resp = client.post(url, json={"at": "2025-01-01T00:00:00Z"}, headers=auth("supervisor"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "at"]
    assert client.post(url, headers={**auth("supervisor"), "If-Match": '"3"'}).status_code == 412
    assert client.post(f"/v1/loyalty/rules/{uuid.uuid4()}/retire", headers=auth("supervisor")).status_code == 404
    assert client.post(url, headers=auth("staff")).status_code == 403


def test_list_rules_pages_by_code(client, auth):
    for code in ("c-3", "c-1", "c-2"):
        f.rule(client, auth, code=code)
    first = client.get("/v1/loyalty/rules", params={"limit": 2}, headers=auth("staff")).json()
    assert [r["code"] for r in first["items"]] == ["c-1", "c-2"]
    rest = client.get(
        "/v1/loyalty/rules", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth("staff")
    ).json()
    assert [r["code"] for r in rest["items"]] == ["c-3"] and rest["next_cursor"] is None
    assert client.get("/v1/loyalty/rules", headers=auth("customer")).status_code == 403
    assert client.get(f"/v1/loyalty/rules/{uuid.uuid4()}", headers=auth("staff")).status_code == 404
