"""Reading customers: masking, the customer-sees-only-itself rule, audited full reads."""

import uuid

import pytest

from tests.profile import factories as f


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin", "system"])
def test_read_customer_as_each_reader_role_is_masked(client, auth, role):
    body = f.individual()
    c = f.register(client, auth("staff"), body)
    resp = client.get(f"/v1/customers/{c['id']}", headers=auth(role))
    assert resp.status_code == 200
    assert resp.headers["etag"] == '"1"'
    assert resp.json() == c
    assert body["resident_id"] not in resp.text and body["phone"] not in resp.text


def test_read_own_record_as_customer_succeeds(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.get(f"/v1/customers/{c['id']}", headers=auth("customer", sub=c["id"]))
    assert resp.status_code == 200 and resp.json()["id"] == c["id"]


def test_read_other_customer_as_customer_is_404(client, auth):
    mine, other = f.register(client, auth("staff")), f.register(client, auth("staff"))
    resp = client.get(f"/v1/customers/{other['id']}", headers=auth("customer", sub=mine["id"]))
    assert resp.status_code == 404 and resp.json()["code"] == "customer_not_found"


def test_read_unknown_customer_is_404(client, auth):
    resp = client.get(f"/v1/customers/{uuid.uuid4()}", headers=auth("staff"))
    assert resp.status_code == 404 and resp.json()["code"] == "customer_not_found"


def test_read_malformed_id_is_422(client, auth):
    resp = client.get("/v1/customers/not-a-uuid", headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["path", "customer_id"]


def test_read_without_token_is_401(client, auth):
    c = f.register(client, auth("staff"))
    assert client.get(f"/v1/customers/{c['id']}").status_code == 401


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_personal_data_for_permitted_role_is_full_and_logged(client, auth, role):
    body = f.individual()
    c = f.register(client, auth("staff"))
    c = f.register(client, auth("staff"), body)
    resp = client.get(
        f"/v1/customers/{c['id']}/personal-data",
        params={"reason": "customer asked at counter"},
        headers=auth(role, sub="reader-9"),
    )
    assert resp.status_code == 200
    assert resp.json() == {
        "customer_id": c["id"],
        "id_type": "resident_id",
        "id_number": body["resident_id"],
        "id_country": None,
        "phone": body["phone"],
        "email": body["email"],
    }
    log = client.get(f"/v1/customers/{c['id']}/access-log", headers=auth("supervisor")).json()["items"]
    assert [(e["action"], e["actor_sub"], e["actor_role"], e["reason"]) for e in log] == [
        ("personal_data.read", "reader-9", role, "customer asked at counter")
    ]
    assert log[0]["request_id"] == resp.headers["x-request-id"]


def test_personal_data_for_staff_is_403_and_not_logged(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.get(f"/v1/customers/{c['id']}/personal-data", params={"reason": "curious"}, headers=auth("staff"))
    assert resp.status_code == 403 and resp.json()["code"] == "reveal_forbidden"
    assert client.get(f"/v1/customers/{c['id']}/access-log", headers=auth("supervisor")).json()["items"] == []


@pytest.mark.parametrize("role", ["customer", "system"])
def test_personal_data_for_other_roles_is_403(client, auth, role):
    c = f.register(client, auth("staff"))
    resp = client.get(
        f"/v1/customers/{c['id']}/personal-data", params={"reason": "because"}, headers=auth(role, sub=c["id"])
    )
    assert resp.status_code == 403


@pytest.mark.parametrize("params", [{}, {"reason": "why"}, {"reason": "x" * 201}])
def test_personal_data_without_proper_reason_is_422(client, auth, params):
    c = f.register(client, auth("staff"))
    resp = client.get(f"/v1/customers/{c['id']}/personal-data", params=params, headers=auth("supervisor"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "reason"]


def test_personal_data_of_unknown_customer_is_404(client, auth):
    resp = client.get(
        f"/v1/customers/{uuid.uuid4()}/personal-data", params={"reason": "check this"}, headers=auth("supervisor")
    )
    assert resp.status_code == 404


def test_access_log_pages_newest_first(client, auth):
    c = f.register(client, auth("staff"))
    for i in range(3):
        client.get(f"/v1/customers/{c['id']}/personal-data", params={"reason": f"reason {i}"}, headers=auth("admin"))
    first = client.get(f"/v1/customers/{c['id']}/access-log", params={"limit": 2}, headers=auth("admin")).json()
    assert [e["reason"] for e in first["items"]] == ["reason 2", "reason 1"]
    rest = client.get(
        f"/v1/customers/{c['id']}/access-log",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=auth("admin"),
    ).json()
    assert [e["reason"] for e in rest["items"]] == ["reason 0"] and rest["next_cursor"] is None


@pytest.mark.parametrize("role", ["staff", "customer", "system"])
def test_access_log_for_other_roles_is_403(client, auth, role):
    c = f.register(client, auth("staff"))
    assert client.get(f"/v1/customers/{c['id']}/access-log", headers=auth(role)).status_code == 403


def test_access_log_of_unknown_customer_is_404(client, auth):
    assert client.get(f"/v1/customers/{uuid.uuid4()}/access-log", headers=auth("admin")).status_code == 404


def test_access_log_bad_cursor_is_422(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.get(f"/v1/customers/{c['id']}/access-log", params={"cursor": "WyJhIl0"}, headers=auth("admin"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "cursor"]
