"""A service enforces its own body-size and request-time limits, not only the gateway's
(services/common/limits.py): 413 before a body over the limit is read, or as soon as a streamed one
passes it; 504 when a request is not answered in time. Problem+json with the request id."""

from fastapi.testclient import TestClient

from services.profile.app import create_app
from tests.profile.conftest import profile_settings

LIMIT = 2_000


def _client(profile_db, **overrides) -> TestClient:
    settings = profile_settings(profile_db.url, max_body_bytes=LIMIT, **overrides)
    return TestClient(create_app(settings, db=profile_db))


def _problem(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == code and resp.json()["request_id"] == resp.headers["x-request-id"]


def test_a_body_over_the_limit_is_413_before_it_is_read(profile_db, auth):
    with _client(profile_db) as client:
        resp = client.post("/v1/customers", content=b"{" + b" " * LIMIT + b"}", headers=auth("staff"))
        _problem(resp, 413, "payload_too_large")
        assert client.get("/v1/customers", headers=auth("staff")).json()["items"] == []


def test_a_streamed_body_is_refused_once_it_passes_the_limit(profile_db, auth):
    def chunks():
        for _ in range(10):
            yield b" " * 500

    with _client(profile_db) as client:
        headers = {**auth("staff"), "content-type": "application/json"}
        _problem(client.post("/v1/customers", content=chunks(), headers=headers), 413, "payload_too_large")


def test_a_request_not_answered_in_time_is_504(profile_db, auth):
    with _client(profile_db, request_timeout_seconds=0.3) as client:
        resp = client.get("/v1/events", params={"after": 0, "wait": 5}, headers=auth("system"))
        _problem(resp, 504, "request_timeout")
        assert client.get("/health/live").status_code == 200  # within the time: answered as always
