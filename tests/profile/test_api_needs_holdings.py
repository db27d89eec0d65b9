"""Stated needs and holdings on both databases: stated by the customer or staff, reported by core banking
under its own reference, listed, exported, erased, each change on the feed (and only a change), and every
role and error the routes declare."""

import uuid

import pytest

from tests.event_contract import problems_with
from tests.profile import factories as f

NEEDS = {"purpose": "retirement", "horizon": "long", "liquidity_need": "low"}
HOLDING = {"product_code": "FL-DEP-3Y", "category": "deposit", "opened_on": "2025-06-01", "matures_on": "2028-06-01"}


@pytest.fixture
def customer(client, auth):
    return f.register(client, auth("staff"))


def _events(client, auth, *types):
    items = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    return [e for e in items if e["type"] in types]


def test_a_customer_states_its_own_needs_and_staff_read_them(client, auth, customer):
    cid = customer["id"]
    me = auth("customer", sub=cid)
    assert client.get(f"/v1/customers/{cid}/needs", headers=me).json()["code"] == "needs_not_stated"
    first = client.put(f"/v1/customers/{cid}/needs", json=NEEDS, headers=me)
    assert first.status_code == 201 and first.json()["stated_by_role"] == "customer"
    same = client.put(f"/v1/customers/{cid}/needs", json=NEEDS, headers=auth("staff"))
    assert same.status_code == 200 and same.json()["stated_by_role"] == "customer"  # nothing changed
    changed = client.put(f"/v1/customers/{cid}/needs", json={**NEEDS, "horizon": "medium"}, headers=auth("staff"))
    assert changed.status_code == 200 and changed.json()["stated_by_role"] == "staff"
    for role in ("staff", "supervisor", "admin", "system"):
        read = client.get(f"/v1/customers/{cid}/needs", headers=auth(role))
        assert read.status_code == 200 and read.json()["horizon"] == "medium", role
    events = _events(client, auth, "customer.needs_stated")
    assert [e["data"]["horizon"] for e in events] == ["long", "medium"]
    assert all(e["subject_id"] == cid for e in events)
    assert [p for e in events for p in problems_with("profile", e)] == []


def test_needs_refuse_what_is_wrong(client, auth, customer):
    cid = customer["id"]
    for body, loc in [
        ({**NEEDS, "purpose": "yacht"}, ["body", "purpose"]),
        ({"purpose": "saving", "horizon": "long"}, ["body", "liquidity_need"]),
        ({**NEEDS, "mood": "happy"}, ["body", "mood"]),
    ]:
        r = client.put(f"/v1/customers/{cid}/needs", json=body, headers=auth("staff"))
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == loc, r.text
    other = auth("customer")
    assert client.put(f"/v1/customers/{cid}/needs", json=NEEDS, headers=other).status_code == 404
    assert client.get(f"/v1/customers/{cid}/needs", headers=other).status_code == 404
    missing = uuid.uuid4()
    assert client.put(f"/v1/customers/{missing}/needs", json=NEEDS, headers=auth("staff")).status_code == 404
    assert client.put(f"/v1/customers/{cid}/needs", json=NEEDS, headers=auth("system")).status_code == 403
    assert client.put(f"/v1/customers/{cid}/needs", json=NEEDS).status_code == 401


def test_core_banking_reports_holdings_once_and_changes(client, auth, customer):
    cid = customer["id"]
    system = auth("system")
    first = client.put(f"/v1/customers/{cid}/holdings/CT-2025-0001", json=HOLDING, headers=system)
    assert first.status_code == 201 and first.json()["status"] == "held", first.text
    again = client.put(f"/v1/customers/{cid}/holdings/CT-2025-0001", json=HOLDING, headers=system)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    card = {"product_code": "FL-CARD", "category": "card", "opened_on": "2024-01-05"}
    assert client.put(f"/v1/customers/{cid}/holdings/CARD-77", json=card, headers=auth("admin")).status_code == 201
    closed = {**HOLDING, "status": "closed", "closed_on": "2026-06-01"}
    assert client.put(f"/v1/customers/{cid}/holdings/CT-2025-0001", json=closed, headers=system).status_code == 200
    held = client.get(f"/v1/customers/{cid}/holdings", headers=auth("customer", sub=cid)).json()["items"]
    assert [h["holding_ref"] for h in held] == ["CARD-77"]
    every = client.get(f"/v1/customers/{cid}/holdings", params={"status": "all"}, headers=auth("staff")).json()
    assert [h["holding_ref"] for h in every["items"]] == ["CARD-77", "CT-2025-0001"]
    events = _events(client, auth, "holding.changed")
    assert [(e["data"]["product_code"], e["data"]["status"]) for e in events] == [
        ("FL-DEP-3Y", "held"),
        ("FL-CARD", "held"),
        ("FL-DEP-3Y", "closed"),
    ]
    assert "CT-2025-0001" not in str(events)  # the bank's reference stays in profile
    assert [p for e in events for p in problems_with("profile", e)] == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({**HOLDING, "product_code": "lower"}, ["body", "product_code"]),
        ({**HOLDING, "category": "lottery"}, ["body", "category"]),
        ({**HOLDING, "matures_on": "2025-05-01"}, ["body", "matures_on"]),
        ({**HOLDING, "status": "closed"}, ["body", "closed_on"]),
        ({**HOLDING, "closed_on": "2026-01-01"}, ["body", "closed_on"]),
        ({**HOLDING, "status": "closed", "closed_on": "2020-01-01"}, ["body", "closed_on"]),
    ],
)
def test_holdings_refuse_what_is_wrong(client, auth, customer, body, loc):
    r = client.put(f"/v1/customers/{customer['id']}/holdings/H1", json=body, headers=auth("system"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == loc, r.text
    assert client.get(f"/v1/customers/{customer['id']}/holdings", headers=auth("staff")).json()["items"] == []


def test_holdings_roles_and_unknowns(client, auth, customer):
    cid = customer["id"]
    for role in ("staff", "supervisor", "customer"):
        headers = auth(role, sub=cid) if role == "customer" else auth(role)
        r = client.put(f"/v1/customers/{cid}/holdings/H1", json=HOLDING, headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "role_forbidden", role
    no_scope = auth("system", scope="events:read")
    assert client.put(f"/v1/customers/{cid}/holdings/H1", json=HOLDING, headers=no_scope).status_code == 403
    assert client.put(f"/v1/customers/{cid}/holdings/H1", json=HOLDING).status_code == 401
    bad_ref = client.put(f"/v1/customers/{cid}/holdings/-x", json=HOLDING, headers=auth("system"))
    assert bad_ref.status_code == 422 and bad_ref.json()["errors"][0]["loc"] == ["path", "holding_ref"]
    missing = uuid.uuid4()
    assert client.put(f"/v1/customers/{missing}/holdings/H1", json=HOLDING, headers=auth("system")).status_code == 404
    assert client.get(f"/v1/customers/{missing}/holdings", headers=auth("staff")).status_code == 404
    assert client.get(f"/v1/customers/{cid}/holdings", headers=auth("customer")).status_code == 404


def test_a_closed_customer_takes_no_new_needs_or_holdings(client, auth, customer):
    cid = customer["id"]
    close = client.post(f"/v1/customers/{cid}/close", json={"reason": "moved abroad"}, headers=auth("supervisor"))
    assert close.status_code == 200, close.text
    assert client.put(f"/v1/customers/{cid}/needs", json=NEEDS, headers=auth("staff")).json()["code"] == (
        "customer_closed"
    )
    r = client.put(f"/v1/customers/{cid}/holdings/H1", json=HOLDING, headers=auth("system"))
    assert r.status_code == 409 and r.json()["code"] == "customer_closed"


def test_export_carries_needs_and_holdings(client, auth, customer):
    cid = customer["id"]
    client.put(f"/v1/customers/{cid}/needs", json=NEEDS, headers=auth("customer", sub=cid))
    client.put(f"/v1/customers/{cid}/holdings/H1", json=HOLDING, headers=auth("system"))
    export = client.get(f"/v1/customers/{cid}/export", headers=auth("customer", sub=cid)).json()
    assert export["needs"]["purpose"] == "retirement"
    assert [h["product_code"] for h in export["holdings"]] == ["FL-DEP-3Y"]


def test_erasure_deletes_needs_and_holdings(client, auth, customer):
    cid = customer["id"]
    client.put(f"/v1/customers/{cid}/needs", json=NEEDS, headers=auth("customer", sub=cid))
    client.put(f"/v1/customers/{cid}/holdings/H1", json=HOLDING, headers=auth("system"))
    erased = client.post(
        f"/v1/customers/{cid}/erasure-requests",
        json={"reason": "PIPL art. 47 request in the app", "requested_via": "mobile"},
        headers=auth("customer", sub=cid),  # the customer's own request is not under dual control
    )
    assert erased.status_code == 201, erased.text
    assert "customer_needs (deleted)" in erased.json()["erased_fields"]
    assert client.get(f"/v1/customers/{cid}/needs", headers=auth("staff")).json()["code"] == "needs_not_stated"
    every = client.get(f"/v1/customers/{cid}/holdings", params={"status": "all"}, headers=auth("staff")).json()
    assert every["items"] == []
