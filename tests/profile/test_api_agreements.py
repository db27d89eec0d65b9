"""Service agreements: sign, supersede, revoke, expire (injected clock), list, events, roles."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.profile import factories as f

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(profile_app):
    state = {"now": NOW}
    profile_app.state.clock = lambda: state["now"]
    return state


@pytest.fixture
def customer(client, auth, clock):
    return f.register(client, auth("staff"))


def _sign(client, headers, cid, **overrides):
    body = {"agreement_type": "e_banking", "version": "2026.1", "channel": "counter", **overrides}
    return client.post(f"/v1/customers/{cid}/agreements", json=body, headers=headers)


def _list(client, auth, cid, **params):
    resp = client.get(f"/v1/customers/{cid}/agreements", params=params, headers=auth("staff"))
    assert resp.status_code == 200
    return resp.json()["items"]


def _events(client, auth, prefix="agreement."):
    items = client.get("/v1/events", headers=auth("system")).json()["items"]
    return [e for e in items if e["type"].startswith(prefix)]


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_sign_as_staff_role_records_event(client, auth, customer, role):
    resp = _sign(client, auth(role), customer["id"], expires_at="2027-11-28T00:00:00Z")
    assert resp.status_code == 201
    a = resp.json()
    assert a["status"] == "active" and a["signed_at"] == "2026-11-28T12:00:00Z"
    assert resp.headers["location"].endswith(a["id"])
    (event,) = _events(client, auth)
    assert event["type"] == "agreement.signed" and event["subject_id"] == customer["id"]
    assert event["data"] == {
        "agreement_id": a["id"],
        "agreement_type": "e_banking",
        "version": "2026.1",
        "channel": "counter",
        "signed_at": "2026-11-28T12:00:00Z",
        "expires_at": "2027-11-28T00:00:00Z",
    }


def test_customer_signs_own_agreement_not_anothers(client, auth, customer):
    other = f.register(client, auth("staff"))
    mine = auth("customer", sub=customer["id"])
    assert _sign(client, mine, customer["id"], channel="mobile").status_code == 201
    assert _sign(client, mine, other["id"]).status_code == 404


def test_signing_same_type_supersedes_the_old_one(client, auth, customer):
    old = _sign(client, auth("staff"), customer["id"], version="2025.1").json()
    other_type = _sign(client, auth("staff"), customer["id"], agreement_type="basic_account").json()
    new = _sign(client, auth("staff"), customer["id"], version="2026.1").json()
    assert {a["id"] for a in _list(client, auth, customer["id"])} == {new["id"], other_type["id"]}
    everything = {a["id"]: a for a in _list(client, auth, customer["id"], status="all")}
    assert everything[old["id"]]["status"] == "superseded" and everything[old["id"]]["superseded_by"] == new["id"]


def test_agreement_expires_by_the_clock(client, auth, customer, clock):
    a = _sign(client, auth("staff"), customer["id"], expires_at="2026-12-01T00:00:00Z").json()
    assert [x["id"] for x in _list(client, auth, customer["id"])] == [a["id"]]
    clock["now"] = datetime(2026, 12, 1, tzinfo=UTC)
    assert _list(client, auth, customer["id"]) == []
    assert _list(client, auth, customer["id"], status="all")[0]["status"] == "expired"
    resp = client.post(
        f"/v1/customers/{customer['id']}/agreements/{a['id']}/revoke", json={"reason": "late"}, headers=auth("staff")
    )
    assert resp.status_code == 409 and resp.json()["code"] == "agreement_not_active"


def test_revoke_records_event_and_second_revoke_is_409(client, auth, customer):
    a = _sign(client, auth("staff"), customer["id"]).json()
    url = f"/v1/customers/{customer['id']}/agreements/{a['id']}/revoke"
    resp = client.post(url, json={"reason": "customer request"}, headers=auth("customer", sub=customer["id"]))
    assert resp.status_code == 200
    assert resp.json()["status"] == "revoked" and resp.json()["revoke_reason"] == "customer request"
    assert _events(client, auth)[-1]["data"] == {
        "agreement_id": a["id"],
        "agreement_type": "e_banking",
        "revoked_at": "2026-11-28T12:00:00Z",
    }
    again = client.post(url, json={"reason": "again"}, headers=auth("staff"))
    assert again.status_code == 409 and again.json()["code"] == "agreement_not_active"
    assert _list(client, auth, customer["id"]) == []


def test_revoke_unknown_or_foreign_agreement_is_404(client, auth, customer):
    other = f.register(client, auth("staff"))
    theirs = _sign(client, auth("staff"), other["id"]).json()
    for aid in (theirs["id"], str(uuid.uuid4())):
        resp = client.post(
            f"/v1/customers/{customer['id']}/agreements/{aid}/revoke", json={"reason": "x"}, headers=auth("staff")
        )
        assert resp.status_code == 404 and resp.json()["code"] == "agreement_not_found"


def test_sign_for_closed_customer_is_409(client, auth, customer):
    client.post(f"/v1/customers/{customer['id']}/close", headers=auth("staff"))
    resp = _sign(client, auth("staff"), customer["id"])
    assert resp.status_code == 409 and resp.json()["code"] == "customer_closed"


def test_sign_for_unknown_customer_is_404(client, auth):
    assert _sign(client, auth("staff"), uuid.uuid4()).status_code == 404


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"agreement_type": "lottery"}, "agreement_type"),
        ({"version": ""}, "version"),
        ({"channel": "atm"}, "channel"),
        ({"signed_at": "2026-11-28T12:00:00"}, "signed_at"),
        ({"signed_at": (NOW + timedelta(days=1)).isoformat()}, "signed_at"),
        ({"expires_at": "2026-11-01T00:00:00Z"}, "expires_at"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_sign_is_422_naming_the_field(client, auth, customer, overrides, field):
    resp = _sign(client, auth("staff"), customer["id"], **overrides)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


def test_bad_revoke_body_is_422(client, auth, customer):
    a = _sign(client, auth("staff"), customer["id"]).json()
    resp = client.post(f"/v1/customers/{customer['id']}/agreements/{a['id']}/revoke", json={}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "reason"]


@pytest.mark.parametrize("role", ["system"])
def test_sign_and_revoke_as_system_is_403(client, auth, customer, role):
    assert _sign(client, auth(role), customer["id"]).status_code == 403
    a = _sign(client, auth("staff"), customer["id"]).json()
    url = f"/v1/customers/{customer['id']}/agreements/{a['id']}/revoke"
    assert client.post(url, json={"reason": "x"}, headers=auth(role)).status_code == 403


def test_agreements_without_token_are_401(client, customer):
    assert client.get(f"/v1/customers/{customer['id']}/agreements").status_code == 401
    body = {"agreement_type": "e_banking", "version": "1", "channel": "counter"}
    assert client.post(f"/v1/customers/{customer['id']}/agreements", json=body).status_code == 401
    url = f"/v1/customers/{customer['id']}/agreements/{uuid.uuid4()}/revoke"
    assert client.post(url, json={"reason": "x"}).status_code == 401


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin", "system"])
def test_list_as_each_reader_role(client, auth, customer, role):
    _sign(client, auth("staff"), customer["id"])
    resp = client.get(f"/v1/customers/{customer['id']}/agreements", headers=auth(role))
    assert resp.status_code == 200 and len(resp.json()["items"]) == 1


def test_list_errors(client, auth, customer):
    other = f.register(client, auth("staff"))
    mine = auth("customer", sub=customer["id"])
    assert client.get(f"/v1/customers/{customer['id']}/agreements", headers=mine).status_code == 200
    assert client.get(f"/v1/customers/{other['id']}/agreements", headers=mine).status_code == 404
    assert client.get(f"/v1/customers/{uuid.uuid4()}/agreements", headers=auth("staff")).status_code == 404
    bad = client.get(f"/v1/customers/{customer['id']}/agreements", params={"status": "x"}, headers=auth("staff"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "status"]


def test_list_pages(client, auth, customer):
    types = ["basic_account", "e_banking", "wealth_management"]
    for i, t in enumerate(types):
        at = f"2026-11-0{i + 1}T00:00:00Z"
        _sign(client, auth("staff"), customer["id"], agreement_type=t, signed_at=at, signed_at_reason="paper form")
    first = client.get(f"/v1/customers/{customer['id']}/agreements", params={"limit": 2}, headers=auth("staff")).json()
    rest = client.get(
        f"/v1/customers/{customer['id']}/agreements", params={"cursor": first["next_cursor"]}, headers=auth("staff")
    ).json()
    assert [a["agreement_type"] for a in first["items"] + rest["items"]] == list(reversed(types))


def test_a_customer_cannot_backdate_a_signing(client, auth, customer):
    me = auth("customer", sub=customer["id"])
    resp = _sign(client, me, customer["id"], signed_at="2001-01-01T00:00:00Z")
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "signed_at"]
    assert _list(client, auth, customer["id"]) == []
    signed = _sign(client, me, customer["id"])  # without it: the server's time
    assert signed.status_code == 201 and signed.json()["signed_at"] == "2026-11-28T12:00:00Z"


def test_staff_record_a_paper_signing_only_with_a_reason_that_is_kept(client, auth, customer):
    staff = auth("staff", sub="staff-wang")
    resp = _sign(client, staff, customer["id"], signed_at="2025-06-01T00:00:00Z")
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "signed_at_reason"]
    resp = _sign(client, staff, customer["id"], signed_at="2025-06-01T00:00:00Z", signed_at_reason="纸质协议补录")
    assert resp.status_code == 201 and resp.json()["signed_at"] == "2025-06-01T00:00:00Z"
    trail = client.get(f"/v1/customers/{customer['id']}/access-log", headers=auth("supervisor")).json()["items"]
    assert [(e["action"], e["actor_sub"], e["reason"]) for e in trail if e["action"] == "agreement.backdated"] == [
        ("agreement.backdated", "staff-wang", "纸质协议补录")
    ]
