"""Relationship managers on both databases: assigned and reassigned by staff within their branch's
subtree, the manager's branch on the customer's line, each change on the feed (and only a change), and
every role and error the routes declare."""

import uuid

import pytest

from tests.event_contract import problems_with
from tests.profile import factories as f

ASSIGN = {"manager_id": "rm-001", "manager_branch_code": "BJ0001"}


@pytest.fixture
def customer(client, auth):
    return f.register(client, auth("staff"), f.individual(branch_code="BJ0001"))


def _events(client, auth):
    items = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    return [e for e in items if e["type"] == "customer.manager_assigned"]


def test_staff_assign_then_reassign_and_each_change_is_on_the_feed(client, auth, customer):
    cid = customer["id"]
    url = f"/v1/customers/{cid}/manager"
    assert client.get(url, headers=auth("staff")).json()["code"] == "manager_not_assigned"
    first = client.put(url, json=ASSIGN, headers=auth("staff", sub="clerk-1"))
    assert first.status_code == 201, first.text
    assert (first.json()["manager_id"], first.json()["assigned_by"], first.json()["version"]) == (
        "rm-001",
        "clerk-1",
        1,
    )
    same = client.put(url, json=ASSIGN, headers=auth("staff"))
    assert same.status_code == 200 and same.json()["version"] == 1  # nothing changed, nothing recorded
    moved = client.put(url, json={"manager_id": "rm-002", "manager_branch_code": "BR0001"}, headers=auth("supervisor"))
    assert moved.status_code == 200 and moved.json()["version"] == 2
    for role in ("staff", "supervisor", "admin"):
        read = client.get(url, headers=auth(role))
        assert read.status_code == 200 and read.json()["manager_id"] == "rm-002", role
    events = _events(client, auth)
    assert [(e["data"]["manager_id"], e["data"]["previous_manager_id"]) for e in events] == [
        ("rm-001", None),
        ("rm-002", "rm-001"),
    ]
    assert all(e["subject_id"] == cid for e in events)
    assert [p for e in events for p in problems_with("profile", e)] == []


def test_the_head_office_may_manage_a_customer_of_any_branch(client, auth, customer):
    body = {"manager_id": "vip-desk", "manager_branch_code": "HQ0001"}
    r = client.put(f"/v1/customers/{customer['id']}/manager", json=body, headers=auth("admin", branch=None))
    assert r.status_code == 201 and r.json()["manager_branch_code"] == "HQ0001"


def test_the_managers_branch_must_be_on_the_customers_line(client, auth, customer):
    url = f"/v1/customers/{customer['id']}/manager"
    sibling = client.put(url, json={**ASSIGN, "manager_branch_code": "BJ0002"}, headers=auth("admin", branch=None))
    assert sibling.status_code == 422
    assert sibling.json()["errors"][0]["loc"] == ["body", "manager_branch_code"]
    assert sibling.json()["errors"][0]["type"] == "manager_branch_off_line"
    # BR0001 staff may not name the province above their own branch: it is outside their subtree
    above = client.put(url, json={**ASSIGN, "manager_branch_code": "TP0001"}, headers=auth("staff"))
    assert above.status_code == 422 and above.json()["errors"][0]["type"] == "out_of_reach"
    province = client.put(url, json={**ASSIGN, "manager_branch_code": "TP0001"}, headers=auth("admin", branch=None))
    assert province.status_code == 201  # the head office may


def test_assignment_refuses_what_is_wrong(client, auth, customer):
    cid = customer["id"]
    url = f"/v1/customers/{cid}/manager"
    for body, loc in [
        ({**ASSIGN, "manager_id": ""}, ["body", "manager_id"]),
        ({**ASSIGN, "manager_branch_code": "bj"}, ["body", "manager_branch_code"]),
        ({**ASSIGN, "extra": 1}, ["body", "extra"]),
    ]:
        r = client.put(url, json=body, headers=auth("staff"))
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == loc, r.text
    missing = f"/v1/customers/{uuid.uuid4()}/manager"
    assert client.put(missing, json=ASSIGN, headers=auth("staff")).status_code == 404
    assert client.get(missing, headers=auth("staff")).status_code == 404
    out_of_scope = auth("staff", branch="CT0002")  # another province's city: the customer looks absent
    assert client.put(url, json=ASSIGN, headers=out_of_scope).status_code == 404
    assert client.get(url, headers=out_of_scope).status_code == 404
    for role in ("customer", "system"):
        headers = auth(role, sub=cid) if role == "customer" else auth(role)
        assert client.put(url, json=ASSIGN, headers=headers).status_code == 403, role
        assert client.get(url, headers=headers).status_code == 403, role
    assert client.put(url, json=ASSIGN).status_code == 401
    assert client.get(url).status_code == 401
    assert client.post(f"/v1/customers/{cid}/close", headers=auth("staff")).status_code == 200
    closed = client.put(url, json=ASSIGN, headers=auth("staff"))
    assert closed.status_code == 409 and closed.json()["code"] == "customer_closed"
