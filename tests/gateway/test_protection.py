"""Edge limits and browser-facing headers: security headers on every response, 431 for oversized
headers, 504 when a request takes too long as a whole, CORS from the allow-list."""

import pytest

from gateway.protection import API_SECURITY_HEADERS
from tests.gateway.conftest import RawUpstream

ORIGIN = "https://branch-app.example.cn"
EXPECTED = {name.decode(): value.decode() for name, value in API_SECURITY_HEADERS}


def _secured(r) -> bool:
    return all(r.headers.get(name) == value for name, value in EXPECTED.items() if name != "content-security-policy")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/customers/1", 200),
        ("GET", "/api/v1/customers/1?status=500", 500),
        ("GET", "/api/v1/customers/1?unauthenticated", 401),
        ("GET", "/api/v1/nosuch", 404),
        ("GET", "/health", 200),
        ("GET", "/health/live", 200),
        ("GET", "/metrics", 200),
        ("GET", "/api/openapi.json", 200),
        ("GET", "/api/docs", 200),
        ("DELETE", "/health", 405),
    ],
)
def test_security_headers_on_every_response(gateway, auth, method, path, status):
    headers = {} if "unauthenticated" in path else auth("staff")
    r = gateway().request(method, path, headers=headers)
    assert r.status_code == status
    assert _secured(r)
    assert len(r.headers.get_list("x-content-type-options")) == 1


def test_security_headers_replace_upstream_ones(gateway, auth):
    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-frame-options: SAMEORIGIN\r\n"
        b"Content-Security-Policy: default-src *\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
    )
    with RawUpstream(answer=answer) as upstream:
        r = gateway(profile_url=upstream.url).get("/api/v1/customers/1", headers=auth("staff"))
    assert r.headers.get_list("content-security-policy") == [EXPECTED["content-security-policy"]]
    assert r.headers.get_list("x-frame-options") == ["DENY"]


def test_docs_csp_allows_own_scripts_only(gateway):
    csp = gateway().get("/api/docs").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp


def test_headers_over_limit_431_problem_no_upstream_call(gateway, upstream, auth):
    before = len(upstream.seen)
    r = gateway(max_header_bytes=2048).get("/api/v1/customers/1", headers={**auth("staff"), "X-Big": "x" * 3000})
    assert r.status_code == 431
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "headers_too_large" and r.json()["request_id"]
    assert _secured(r)
    assert len(upstream.seen) == before


def test_headers_under_limit_forwarded(gateway, auth):
    r = gateway(max_header_bytes=8192).get("/api/v1/customers/1", headers={**auth("staff"), "X-Big": "x" * 3000})
    assert r.status_code == 200


def test_request_over_total_time_504_problem(gateway, auth):
    client = gateway(request_timeout_seconds=0.3, read_timeout_seconds=10)
    r = client.get("/api/v1/customers/1?sleep=3", headers=auth("staff"))
    assert r.status_code == 504
    assert r.json()["code"] == "request_timeout"
    assert _secured(r)
    # The abandoned upstream call leaves no verdict on the upstream: its circuit stays closed.
    assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 200


def test_cors_preflight_allowed_origin(gateway, upstream):
    before = len(upstream.seen)
    r = gateway(cors_origins=f"{ORIGIN}, https://other.example.cn").options(
        "/api/v1/customers",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "idempotency-key" in r.headers["access-control-allow-headers"].lower()
    assert _secured(r)
    assert len(upstream.seen) == before  # answered at the edge, without a token


def test_cors_preflight_other_origin_refused(gateway):
    r = gateway(cors_origins=ORIGIN).options(
        "/api/v1/customers", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers


def test_cors_actual_request_exposes_headers(gateway, auth):
    r = gateway(cors_origins=ORIGIN).get("/api/v1/customers/1", headers={**auth("staff"), "Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    exposed = r.headers["access-control-expose-headers"].lower()
    assert {"etag", "location", "retry-after", "x-request-id"} <= {h.strip() for h in exposed.split(",")}


def test_cors_off_without_allow_list(gateway, auth):
    r = gateway().get("/api/v1/customers/1", headers={**auth("staff"), "Origin": ORIGIN})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
