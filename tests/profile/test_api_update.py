"""Updating and closing customers: If-Match versions, closed records, events."""

import uuid

import pytest

from tests.profile import factories as f


def _events(client, auth, after=0):
    return client.get("/v1/events", params={"after": after}, headers=auth("system")).json()["items"]


def test_update_with_current_version_changes_fields_and_records_event(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(
        f"/v1/customers/{c['id']}",
        json={"city": "天津", "branch_code": "TJ0001"},
        headers={**auth("staff"), "If-Match": '"1"'},
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == '"2"'
    u = resp.json()
    assert (u["city"], u["branch_code"], u["version"]) == ("天津", "TJ0001", 2)
    assert u["updated_at"] > c["updated_at"]
    last = _events(client, auth)[-1]
    assert last["type"] == "customer.updated" and last["subject_id"] == c["id"]
    assert last["data"]["changed"] == ["branch_code", "city"] and last["data"]["city"] == "天津"


def test_update_phone_moves_the_lookup_and_keeps_it_out_of_events(client, auth):
    body = f.individual()
    c = f.register(client, auth("staff"), body)
    new_phone = f.mobile()
    resp = client.patch(
        f"/v1/customers/{c['id']}", json={"phone": new_phone}, headers={**auth("staff"), "If-Match": '"1"'}
    )
    assert resp.status_code == 200
    by_new = client.get("/v1/customers", params={"phone": new_phone}, headers=auth("staff")).json()["items"]
    by_old = client.get("/v1/customers", params={"phone": body["phone"]}, headers=auth("staff")).json()["items"]
    assert [x["id"] for x in by_new] == [c["id"]] and by_old == []
    last = _events(client, auth)[-1]
    assert last["data"]["changed"] == ["phone"] and new_phone not in str(last)


def test_update_email_null_removes_it(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(f"/v1/customers/{c['id']}", json={"email": None}, headers={**auth("staff"), "If-Match": '"1"'})
    assert resp.status_code == 200 and resp.json()["email"] is None


def test_update_without_change_keeps_version(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(
        f"/v1/customers/{c['id']}", json={"city": c["city"]}, headers={**auth("staff"), "If-Match": '"1"'}
    )
    assert resp.status_code == 200 and resp.json()["version"] == 1
    assert [e["type"] for e in _events(client, auth)] == ["customer.registered"]


def test_update_with_stale_version_is_412(client, auth):
    c = f.register(client, auth("staff"))
    client.patch(f"/v1/customers/{c['id']}", json={"city": "天津"}, headers={**auth("staff"), "If-Match": '"1"'})
    resp = client.patch(f"/v1/customers/{c['id']}", json={"city": "上海"}, headers={**auth("staff"), "If-Match": '"1"'})
    assert resp.status_code == 412
    assert resp.json()["code"] == "version_stale" and resp.json()["current_version"] == 2


def test_update_without_if_match_is_428(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(f"/v1/customers/{c['id']}", json={"city": "天津"}, headers=auth("staff"))
    assert resp.status_code == 428 and resp.json()["code"] == "version_required"


def test_update_with_malformed_if_match_is_422(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(f"/v1/customers/{c['id']}", json={"city": "天津"}, headers={**auth("staff"), "If-Match": "abc"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["header", "If-Match"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": None}, "name"),
        ({"region_type": "space"}, "region_type"),
        ({"resident_id": "x"}, "resident_id"),
        ({"type": "enterprise"}, "type"),
        ({"phone": "555"}, "phone"),
        ({"city": ""}, "city"),
    ],
)
def test_update_bad_fields_is_422_naming_field(client, auth, body, field):
    c = f.register(client, auth("staff"))
    resp = client.patch(f"/v1/customers/{c['id']}", json=body, headers={**auth("staff"), "If-Match": '"1"'})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == field


def test_update_unknown_customer_is_404(client, auth):
    resp = client.patch(
        f"/v1/customers/{uuid.uuid4()}", json={"city": "x"}, headers={**auth("staff"), "If-Match": '"1"'}
    )
    assert resp.status_code == 404


@pytest.mark.parametrize("role", ["system"])  # a customer's own corrections: test_api_rectification.py
def test_update_as_other_role_is_403(client, auth, role):
    c = f.register(client, auth("staff"))
    resp = client.patch(
        f"/v1/customers/{c['id']}", json={"city": "x"}, headers={**auth(role, sub=c["id"]), "If-Match": '"1"'}
    )
    assert resp.status_code == 403


def test_update_without_token_is_401(client, auth):
    c = f.register(client, auth("staff"))
    assert client.patch(f"/v1/customers/{c['id']}", json={"city": "x"}, headers={"If-Match": '"1"'}).status_code == 401


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_close_customer_keeps_it_readable_and_records_event(client, auth, role):
    c = f.register(client, auth("staff"))
    resp = client.post(f"/v1/customers/{c['id']}/close", json={"reason": "moved abroad"}, headers=auth(role))
    assert resp.status_code == 200
    closed = resp.json()
    assert closed["status"] == "closed" and closed["closed_at"] and closed["version"] == 2
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("staff")).json()["status"] == "closed"
    last = _events(client, auth)[-1]
    assert (last["type"], last["data"]["reason"]) == ("customer.closed", "moved abroad")


def test_close_without_body_succeeds(client, auth):
    c = f.register(client, auth("staff"))
    assert client.post(f"/v1/customers/{c['id']}/close", headers=auth("staff")).status_code == 200


def test_update_closed_customer_is_409(client, auth):
    c = f.register(client, auth("staff"))
    client.post(f"/v1/customers/{c['id']}/close", headers=auth("staff"))
    resp = client.patch(f"/v1/customers/{c['id']}", json={"city": "x"}, headers={**auth("staff"), "If-Match": '"2"'})
    assert resp.status_code == 409 and resp.json()["code"] == "customer_closed"


def test_close_twice_is_409(client, auth):
    c = f.register(client, auth("staff"))
    client.post(f"/v1/customers/{c['id']}/close", headers=auth("staff"))
    resp = client.post(f"/v1/customers/{c['id']}/close", headers=auth("staff"))
    assert resp.status_code == 409 and resp.json()["code"] == "customer_closed"


def test_close_with_stale_if_match_is_412(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.post(f"/v1/customers/{c['id']}/close", headers={**auth("staff"), "If-Match": '"7"'})
    assert resp.status_code == 412


def test_close_unknown_customer_is_404(client, auth):
    assert client.post(f"/v1/customers/{uuid.uuid4()}/close", headers=auth("staff")).status_code == 404


def test_close_with_unknown_field_is_422(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.post(f"/v1/customers/{c['id']}/close", json={"why": "x"}, headers=auth("staff"))
    assert resp.status_code == 422


@pytest.mark.parametrize("role", ["customer", "system"])
def test_close_as_other_role_is_403(client, auth, role):
    c = f.register(client, auth("staff"))
    assert client.post(f"/v1/customers/{c['id']}/close", headers=auth(role, sub=c["id"])).status_code == 403


def test_close_without_token_is_401(client, auth):
    c = f.register(client, auth("staff"))
    assert client.post(f"/v1/customers/{c['id']}/close").status_code == 401
