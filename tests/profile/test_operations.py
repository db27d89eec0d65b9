"""Operations contract on a real service: health, metrics by route template, request ids, problem
documents for routing errors and the unexpected, and a complete OpenAPI."""

import uuid

from fastapi.testclient import TestClient

from services.common.db import Database
from services.profile.app import create_app
from tests import dbkit
from tests.profile import factories as f
from tests.profile.conftest import profile_settings


def test_live_and_ready_when_migrated(client):
    assert client.get("/health/live").json() == {"status": "ok", "checks": {}}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "reachable", "migrations": "at head", "writes": "ok"}


def test_ready_is_503_when_migrations_are_missing(tmp_path):
    url = dbkit.sqlite_url(tmp_path / "empty.db")
    with TestClient(create_app(profile_settings(url)), raise_server_exceptions=False) as c:
        resp = c.get("/health/ready")
        assert c.get("/health/live").status_code == 200
    assert resp.status_code == 503
    assert resp.json()["status"] == "unavailable" and resp.json()["checks"]["migrations"].startswith("failed")


def test_ready_is_503_when_database_is_unreachable():
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    app = create_app(profile_settings(url), db=Database(url))
    with TestClient(app, raise_server_exceptions=False) as c:
        resp = c.get("/health/ready")
    assert resp.status_code == 503 and resp.json()["checks"]["database"] == "failed: OperationalError"


def test_metrics_use_route_templates_never_raw_paths(client, auth):
    c = f.register(client, auth("staff"))
    client.get(f"/v1/customers/{c['id']}", headers=auth("staff"))
    client.get(f"/v1/customers/{uuid.uuid4()}", headers=auth("staff"))
    client.get("/no/such/place")
    client.get("/health/ready")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/v1/customers/{customer_id}",status="200"} 1.0' in text
    assert 'http_requests_total{method="GET",route="/v1/customers/{customer_id}",status="404"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert c["id"] not in text and "/health" not in text and 'route="/metrics"' not in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/customers"}' in text


def test_request_id_is_echoed_or_made(client):
    assert client.get("/health/live", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert made != "bad id with spaces" and len(made) == 32
    resp = client.get("/nowhere", headers={"X-Request-ID": "trace-77"})
    assert resp.json()["request_id"] == "trace-77"


def test_unknown_route_and_method_are_problems(client, auth):
    missing = client.get("/v2/whatever")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "route_not_found"
    wrong = client.delete("/v1/customers", headers=auth("staff"))
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


def test_unexpected_error_is_a_500_problem_without_internals(profile_app):
    def boom():
        raise RuntimeError("SELECT secret FROM vault WHERE password='hunter2'")

    profile_app.add_api_route("/boom", boom)
    with TestClient(profile_app, raise_server_exceptions=False) as c:
        resp = c.get("/boom")
    assert resp.status_code == 500
    body = resp.json()
    assert body["code"] == "internal_error" and body["request_id"] == resp.headers["x-request-id"]
    assert "hunter2" not in resp.text and "SELECT" not in resp.text and "Traceback" not in resp.text


def test_openapi_documents_errors_for_every_route(client):
    spec = client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"401", "422"} <= codes, (method, path)
            assert any(c.startswith("2") for c in codes), (method, path)
            assert "application/problem+json" in op["responses"]["401"]["content"]


def test_unknown_query_parameter_is_422_naming_it(client, auth):
    resp = client.get("/v1/customers", params={"branch": "BJ0001"}, headers=auth("staff"))
    assert resp.status_code == 422
    assert resp.json()["errors"] == [
        {"loc": ["query", "branch"], "msg": "unknown query parameter", "type": "extra_forbidden"}
    ]


def test_method_not_allowed_lists_every_allowed_method(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.put(f"/v1/customers/{c['id']}", headers=auth("staff"))
    assert resp.status_code == 405 and resp.headers["allow"] == "GET, PATCH"


def test_body_that_is_not_utf8_is_422(client, auth):
    resp = client.post(
        "/v1/customers", content=b"\xff\xfe{", headers={**auth("staff"), "content-type": "application/json"}
    )
    assert resp.status_code == 422 and resp.json()["code"] == "validation_failed"
