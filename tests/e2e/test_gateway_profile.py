"""Through the gateway to a real profile process: register and read back, then profile stops and
comes back."""

import httpx
import pytest

REGISTRATION = {
    "type": "individual",
    "name": "王小明",
    "resident_id": "11010519491231002X",
    "phone": "13812345678",
    "region_type": "urban",
    "province": "北京",
    "city": "北京",
    "branch_code": "BJ0001",
}

pytestmark = pytest.mark.e2e


def register(http: httpx.Client, headers: dict[str, str]) -> dict:
    r = http.post("/api/v1/customers", json=REGISTRATION, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_register_customer_through_gateway_read_back(suite, auth):
    with httpx.Client(base_url=suite.gateway.url, timeout=10) as http:
        assert http.post("/api/v1/customers", json=REGISTRATION).status_code == 401

        r = http.post("/api/v1/customers", json=REGISTRATION, headers={**auth("staff"), "X-Request-ID": "e2e-reg-1"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert r.headers.get_list("x-request-id") == ["e2e-reg-1"]
        assert r.headers["location"] == f"/api/v1/customers/{created['id']}"
        assert len(r.headers.get_list("date")) == 1 and len(r.headers.get_list("server")) == 1
        assert created["id_number"] == "110105********002X" and created["phone"] == "138****5678"

        got = http.get(r.headers["location"], headers=auth("staff"))
        assert got.status_code == 200
        assert got.json()["name"] == "王小明"
        assert got.json()["customer_no"] == created["customer_no"]
        assert got.headers["etag"] == r.headers["etag"]

        found = http.get("/api/v1/customers", params={"name_prefix": "王"}, headers=auth("staff"))
        assert [c["id"] for c in found.json()["items"]] == [created["id"]]

        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok" and health.json()["services"]["profile"]["status"] == "ok"
        metrics = http.get("/metrics").text
        assert 'route="/api/v1/customers"' in metrics and created["id"] not in metrics


def test_profile_stopped_gateway_503_then_recovers(suite, auth):
    with httpx.Client(base_url=suite.gateway.url, timeout=10) as http:
        created = register(http, auth("staff"))
        path = f"/api/v1/customers/{created['id']}"
        assert http.get(path, headers=auth("staff")).status_code == 200

        suite.profile.stop()
        r = http.get(path, headers=auth("staff"))
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert (problem["code"], problem["service"]) == ("upstream_unavailable", "profile")
        assert "profile" in problem["detail"]
        assert http.post("/api/v1/customers", json=REGISTRATION, headers=auth("staff")).status_code == 503
        health = http.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "down"
        assert health.json()["services"]["profile"]["status"] == "down"

        suite.profile.start()  # same port, same database
        back = http.get(path, headers=auth("staff"))
        assert back.status_code == 200
        assert back.json()["customer_no"] == created["customer_no"]
        health = http.get("/health")
        assert (health.status_code, health.json()["status"]) == (200, "ok")
