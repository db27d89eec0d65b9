"""POST /v1/customers:batch (migrating a customer base): the rules of a single registration per
item, bad items refused alone, idempotent replay by external_id, one customer.registered each, the
limits, and who may call it."""

import itertools

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.profile.app import create_app
from services.profile.models import Customer
from tests.profile import factories as f
from tests.profile.conftest import profile_settings

_ext = itertools.count(1)


def item(body: dict | None = None, **overrides) -> dict:
    return {**(body or f.individual()), "external_id": f"LEGACY-{next(_ext):07d}", **overrides}


def _batch(client, headers, items, status=200):
    resp = client.post("/v1/customers:batch", json={"items": items}, headers=headers)
    assert resp.status_code == status, resp.text
    return resp.json()


def _registered_events(client, auth):
    items = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    return [e for e in items if e["type"] == "customer.registered"]


def _count(profile_db) -> int:
    with profile_db.read() as s:
        return s.execute(select(func.count()).select_from(Customer)).scalar_one()


def test_batch_registers_every_customer_masked_with_one_event_each(client, auth):
    items = [item(), item(f.enterprise()), item(f.individual(email=None))]
    result = _batch(client, auth("system"), items)
    assert (result["registered_count"], result["duplicate_count"], result["rejected_count"]) == (3, 0, 0)
    assert [r["index"] for r in result["registered"]] == [0, 1, 2]
    assert [r["external_id"] for r in result["registered"]] == [i["external_id"] for i in items]
    numbers = [r["customer_no"] for r in result["registered"]]
    assert len(set(numbers)) == 3 and numbers == sorted(numbers)
    first = client.get(f"/v1/customers/{result['registered'][0]['customer_id']}", headers=auth("staff")).json()
    assert first["customer_no"] == numbers[0] and first["id_number"] != items[0]["resident_id"]
    assert first["name"] == items[0]["name"] and first["status"] == "active"
    events = _registered_events(client, auth)
    assert [e["subject_id"] for e in events] == [r["customer_id"] for r in result["registered"]]
    assert events[1]["data"]["type"] == "enterprise" and events[1]["data"]["customer_no"] == numbers[1]


def test_batch_customer_is_found_by_its_identity_as_a_single_registration(client, auth):
    body = item()
    cid = _batch(client, auth("system"), [body])["registered"][0]["customer_id"]
    found = client.get("/v1/customers", params={"id_number": body["resident_id"]}, headers=auth("staff")).json()
    assert [c["id"] for c in found["items"]] == [cid]
    single = client.post(
        "/v1/customers", json={**f.individual(), "resident_id": body["resident_id"]}, headers=auth("staff")
    )
    assert single.status_code == 409 and single.json()["existing_customer_id"] == cid


def test_replayed_batch_changes_nothing_and_names_duplicates(client, auth, profile_db):
    items = [item() for _ in range(3)]
    first = _batch(client, auth("system"), items)
    again = _batch(client, auth("system"), items)
    assert (again["registered_count"], again["duplicate_count"], again["rejected_count"]) == (0, 3, 0)
    assert again["duplicates"] == first["registered"]
    assert _count(profile_db) == 3 and len(_registered_events(client, auth)) == 3


def test_replay_spelt_differently_is_still_a_duplicate(client, auth):
    body = item()
    _batch(client, auth("system"), [body])
    again = _batch(client, auth("system"), [{**body, "name": f"  {body['name']}  "}])
    assert again["duplicate_count"] == 1, again


def test_same_external_id_with_other_content_is_refused_as_conflict(client, auth):
    body = item()
    _batch(client, auth("system"), [body])
    result = _batch(client, auth("system"), [{**body, "city": "天津"}])
    assert result["rejected"][0]["code"] == "external_id_conflict" and result["registered_count"] == 0


def test_bad_items_are_refused_alone_with_index_code_and_field(client, auth, profile_db):
    registered = f.register(client, auth("staff"))
    taken = client.get(
        f"/v1/customers/{registered['id']}/personal-data", params={"reason": "test setup"}, headers=auth("supervisor")
    ).json()["id_number"]
    twin = item()
    items = [
        item(),
        item(resident_id="110105194912310021"),  # wrong check character
        item(f.individual(resident_id=None)),  # an individual needs a document
        {"external_id": "LEGACY-X", "type": "individual"},  # schema
        "not an object",
        item(resident_id=taken),  # registered already
        twin,
        {**twin, "external_id": "LEGACY-TWIN"},  # the same identity twice in the batch
        {**item(), "external_id": twin["external_id"]},  # the same external id twice
        item(f.enterprise(credit_code=f.bad_credit_code(), id_check_override_reason="early code issued in 2016")),
        item(f.enterprise(), unknown_field=1),
        item(),
    ]
    result = _batch(client, auth("system"), items)
    assert [r["index"] for r in result["registered"]] == [0, 6, 11]
    rejected = {r["index"]: r for r in result["rejected"]}
    assert {i: r["code"] for i, r in rejected.items()} == {
        1: "validation_failed",
        2: "validation_failed",
        3: "validation_failed",
        4: "validation_failed",
        5: "customer_duplicate",
        7: "customer_duplicate",
        8: "external_id_repeated",
        9: "override_forbidden",
        10: "validation_failed",
    }
    assert rejected[1]["errors"][0]["loc"] == ["items", 1, "resident_id"]
    assert rejected[2]["errors"][0]["loc"] == ["items", 2, "resident_id"]
    assert rejected[3]["external_id"] == "LEGACY-X" and rejected[4]["external_id"] is None
    assert registered["id"] in rejected[5]["detail"] and taken not in str(result)
    assert _count(profile_db) == 4 and len(_registered_events(client, auth)) == 4


def test_admin_may_override_a_failing_credit_code_and_it_is_audited(client, auth):
    body = item(f.enterprise(credit_code=f.bad_credit_code(), id_check_override_reason="early code issued in 2016"))
    cid = _batch(client, auth("admin", sub="admin-1"), [body])["registered"][0]["customer_id"]
    log = client.get(f"/v1/customers/{cid}/access-log", headers=auth("supervisor")).json()["items"]
    assert [(e["action"], e["actor_sub"]) for e in log] == [("identity_check.overridden", "admin-1")]


@pytest.mark.parametrize("items", [[], "x", None])
def test_malformed_batch_is_422(client, auth, items):
    resp = client.post("/v1/customers:batch", json={"items": items}, headers=auth("system"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][:2] == ["body", "items"]


def test_batch_over_one_thousand_is_422(client, auth, profile_db):
    resp = client.post("/v1/customers:batch", json={"items": [item() for _ in range(1001)]}, headers=auth("system"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "items"]
    assert _count(profile_db) == 0


def test_batch_of_one_thousand_is_registered_whole(client, auth, profile_db):
    result = _batch(client, auth("system"), [item() for _ in range(1000)])
    assert result["registered_count"] == 1000 and _count(profile_db) == 1000


def test_batch_over_the_body_limit_is_413(profile_db, auth):
    with TestClient(create_app(profile_settings(profile_db.url, max_body_bytes=2_000), db=profile_db)) as client:
        resp = client.post("/v1/customers:batch", json={"items": [item() for _ in range(10)]}, headers=auth("system"))
    assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor"])
def test_batch_as_other_role_is_403(client, auth, role):
    resp = client.post("/v1/customers:batch", json={"items": [item()]}, headers=auth(role))
    assert resp.status_code == 403 and resp.json()["code"] == "role_forbidden"


def test_batch_system_token_without_scope_is_403(client, auth):
    resp = client.post(
        "/v1/customers:batch", json={"items": [item()]}, headers=auth("system", scope="transactions:write")
    )
    assert resp.status_code == 403 and resp.json()["scope"] == "customers:write"


@pytest.mark.parametrize("role", ["system", "admin"])
def test_batch_as_each_permitted_role(client, auth, role):
    assert _batch(client, auth(role), [item()])["registered_count"] == 1


def test_batch_without_token_is_401(client):
    assert client.post("/v1/customers:batch", json={"items": [item()]}).status_code == 401


def test_export_names_the_migration_and_erasure_ends_its_replay(client, auth):
    body = item()
    cid = _batch(client, auth("system"), [body])["registered"][0]["customer_id"]
    doc = client.get(f"/v1/customers/{cid}/export", headers=auth("customer", sub=cid)).json()
    assert [i["external_id"] for i in doc["migration_imports"]] == [body["external_id"]]
    erased = client.post(
        f"/v1/customers/{cid}/erasure-requests",
        json={"reason": "customer asked in the app", "requested_via": "mobile"},
        headers=auth("customer", sub=cid),  # the customer's own request: not under dual control
    )
    assert erased.status_code == 201, erased.text
    replay = _batch(client, auth("system"), [body])
    assert replay["rejected"][0]["code"] == "external_id_conflict" and replay["registered_count"] == 0
