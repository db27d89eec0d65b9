"""Accounts: enrolment, reads by role, the statement with running balances, adjustments."""

import uuid

import pytest

from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY
from tests.organisation import place_customer


def test_enrol_as_staff_creates_an_empty_active_account(client, auth):
    cid = str(uuid.uuid4())
    place_customer("loyalty", client.app.state.db, cid)  # as profile's customer.registered would
    resp = client.post("/v1/loyalty/accounts", json={"customer_id": cid}, headers=auth("staff"))
    assert resp.status_code == 201
    assert resp.headers["location"] == f"/v1/loyalty/accounts/{cid}"
    body = resp.json()
    assert (body["customer_id"], body["status"], body["balance"], body["tier"], body["enrolled_via"]) == (
        cid,
        "active",
        0,
        "standard",
        "staff",
    )


def test_enrol_twice_is_409(client, auth):
    cid = f.enrol(client, auth)
    resp = client.post("/v1/loyalty/accounts", json={"customer_id": cid}, headers=auth("staff"))
    assert resp.status_code == 409 and resp.json()["code"] == "account_exists"


@SQLITE_ONLY
@pytest.mark.parametrize(
    "body, field",
    [
        ({"customer_id": "nope"}, "customer_id"),
        ({}, "customer_id"),
        ({"customer_id": str(uuid.uuid4()), "extra": 1}, "extra"),
    ],
)
def test_enrol_bad_body_is_422_naming_the_field(client, auth, body, field):
    resp = client.post("/v1/loyalty/accounts", json=body, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


@SQLITE_ONLY
@pytest.mark.parametrize("role", ["customer", "system"])
def test_enrol_as_non_staff_is_403(client, auth, role):
    resp = client.post("/v1/loyalty/accounts", json={"customer_id": str(uuid.uuid4())}, headers=auth(role))
    assert resp.status_code == 403


@SQLITE_ONLY
def test_enrol_without_token_is_401(client):
    assert client.post("/v1/loyalty/accounts", json={"customer_id": str(uuid.uuid4())}).status_code == 401


@SQLITE_ONLY
@pytest.mark.parametrize("role", ["staff", "supervisor", "admin", "system"])
def test_read_account_as_each_reader_role(client, auth, role):
    cid = f.funded(client, auth, 250)
    resp = client.get(f"/v1/loyalty/accounts/{cid}", headers=auth(role))
    assert resp.status_code == 200 and resp.json()["balance"] == 250


def test_read_own_account_as_customer_succeeds_and_other_is_404(client, auth):
    mine, other = f.enrol(client, auth), f.enrol(client, auth)
    assert client.get(f"/v1/loyalty/accounts/{mine}", headers=auth("customer", sub=mine)).status_code == 200
    resp = client.get(f"/v1/loyalty/accounts/{other}", headers=auth("customer", sub=mine))
    assert resp.status_code == 404 and resp.json()["code"] == "customer_not_found"  # the kit's branch scope


def test_read_unknown_account_is_404_and_malformed_is_422(client, auth):
    assert client.get(f"/v1/loyalty/accounts/{uuid.uuid4()}", headers=auth("staff")).status_code == 404
    resp = client.get("/v1/loyalty/accounts/xyz", headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["path", "customer_id"]


@SQLITE_ONLY
def test_read_account_without_token_is_401(client, auth):
    assert client.get(f"/v1/loyalty/accounts/{f.enrol(client, auth)}").status_code == 401


def test_statement_is_newest_first_with_running_balance_and_pages(client, auth):
    cid = f.enrol(client, auth)
    for points in (100, 50, -30, 7):
        client.post(
            f"/v1/loyalty/accounts/{cid}/adjustments",
            json={"points": points, "reason": "correction"},
            headers=auth("supervisor"),
        )
    first = client.get(f"/v1/loyalty/accounts/{cid}/statement", params={"limit": 3}, headers=auth("staff")).json()
    assert [(e["points"], e["balance_after"]) for e in first["items"]] == [(7, 127), (-30, 120), (50, 150)]
    rest = client.get(
        f"/v1/loyalty/accounts/{cid}/statement",
        params={"limit": 3, "cursor": first["next_cursor"]},
        headers=auth("customer", sub=cid),
    ).json()
    assert [(e["kind"], e["points"], e["balance_after"]) for e in rest["items"]] == [("adjust", 100, 100)]
    assert rest["next_cursor"] is None


def test_statement_window_bounds_occurred_at_and_refuses_a_number(client, auth):
    cid = f.enrol(client, auth)
    client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments",
        json={"points": 100, "reason": "correction"},
        headers=auth("supervisor"),
    )
    url, staff = f"/v1/loyalty/accounts/{cid}/statement", auth("staff")
    at = client.get(url, headers=staff).json()["items"][0]["occurred_at"]
    inside = client.get(url, params={"from": at, "to": "2999-01-01T00:00:00Z"}, headers=staff).json()
    assert [e["points"] for e in inside["items"]] == [100]
    assert client.get(url, params={"to": at}, headers=staff).json()["items"] == []  # the end is exclusive
    resp = client.get(url, params={"to": "0.5"}, headers=staff)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "to"]


def test_statement_errors(client, auth):
    cid = f.enrol(client, auth)
    assert client.get(f"/v1/loyalty/accounts/{uuid.uuid4()}/statement", headers=auth("staff")).status_code == 404
    assert client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("customer")).status_code == 404
    resp = client.get(f"/v1/loyalty/accounts/{cid}/statement", params={"cursor": "garbage"}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "cursor"]
    resp = client.get(f"/v1/loyalty/accounts/{cid}/statement", params={"limit": 0}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "limit"]
    assert client.get(f"/v1/loyalty/accounts/{cid}/statement").status_code == 401


def test_adjust_as_staff_within_limit_succeeds(client, auth):
    cid = f.enrol(client, auth)
    resp = client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments",
        json={"points": 1000, "reason": "goodwill"},
        headers=auth("staff", sub="clerk-1"),
    )
    assert resp.status_code == 201
    assert (resp.json()["kind"], resp.json()["points"], resp.json()["source"]) == ("adjust", 1000, "manual")
    assert f.balance(client, auth, cid) == 1000


def test_adjust_below_zero_is_409_and_changes_nothing(client, auth):
    cid = f.funded(client, auth, 10)
    resp = client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments", json={"points": -11, "reason": "correction"}, headers=auth("staff")
    )
    assert resp.status_code == 409 and resp.json()["code"] == "points_insufficient" and resp.json()["balance"] == 10
    assert f.balance(client, auth, cid) == 10


@SQLITE_ONLY
@pytest.mark.parametrize(
    "body, field",
    [
        ({"points": 0, "reason": "nothing"}, "points"),
        ({"points": 5, "reason": "x"}, "reason"),
        ({"points": "many", "reason": "because"}, "points"),
        ({"points": 10**12, "reason": "because"}, "points"),
    ],
)
def test_adjust_bad_body_is_422_naming_the_field(client, auth, body, field):
    cid = f.enrol(client, auth)
    resp = client.post(f"/v1/loyalty/accounts/{cid}/adjustments", json=body, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


def test_adjust_unknown_account_is_404_and_customer_role_403(client, auth):
    body = {"points": 5, "reason": "because"}
    resp = client.post(f"/v1/loyalty/accounts/{uuid.uuid4()}/adjustments", json=body, headers=auth("staff"))
    assert resp.status_code == 404
    cid = f.enrol(client, auth)
    resp = client.post(f"/v1/loyalty/accounts/{cid}/adjustments", json=body, headers=auth("customer", sub=cid))
    assert resp.status_code == 403


def test_adjust_with_idempotency_key_replays_and_refuses_other_body(client, auth):
    cid = f.enrol(client, auth)
    headers = {**auth("staff", sub="clerk-9"), "Idempotency-Key": "adj-1"}
    first = client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments", json={"points": 40, "reason": "goodwill"}, headers=headers
    )
    again = client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments", json={"points": 40, "reason": "goodwill"}, headers=headers
    )
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotency-replayed"] == "true"
    other = client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments", json={"points": 41, "reason": "goodwill"}, headers=headers
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert f.balance(client, auth, cid) == 40


def test_tier_follows_lifetime_earned_points(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    f.consumer(loyalty_app).apply([])  # nothing: the tier starts at standard
    f.rule(client, auth, points_per_100_cny=100)
    f.consumer(loyalty_app).apply([f.txn(cid, 10_000 * 100)])
    assert client.get(f"/v1/loyalty/accounts/{cid}", headers=auth("staff")).json()["tier"] == "silver"
