"""/metrics: the gateway's requests labelled by route-table prefix (never the raw path), and
per-upstream request, latency and error metrics."""

import pytest

from services.common.metrics import UNMATCHED_ROUTE
from tests.gateway.conftest import sample, samples

CUSTOMER = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"


def test_proxied_requests_labelled_by_prefix_never_raw_path(gateway, auth):
    client = gateway()
    client.get(f"/api/v1/customers/{CUSTOMER}?phone=13812345678", headers=auth("staff"))
    client.post("/api/v1/customers/42/close", headers=auth("staff"))
    client.get(f"/api/v1/customers/{CUSTOMER}")  # 401 at the edge, still labelled by its prefix
    client.get("/api/v1/segments/s-1", headers=auth("staff"))  # not configured
    client.get("/api/v1/nosuch/1", headers=auth("staff"))
    client.get("/api/v1/events?after=0", headers=auth("system"))
    routes = {(s["method"], s["route"], s["status"]) for s, _ in samples(client, "http_requests_total")}
    assert routes == {
        ("GET", "/api/v1/customers", "200"),
        ("POST", "/api/v1/customers", "200"),
        ("GET", "/api/v1/customers", "401"),
        ("GET", "/api/v1/segments", "503"),
        ("GET", UNMATCHED_ROUTE, "404"),
    }
    assert sample(client, "http_requests_total", route=UNMATCHED_ROUTE) == 2
    text = client.get("/metrics").text
    for raw in (CUSTOMER, "13812345678", "phone", "/42", "nosuch", "events", "{path"):
        assert raw not in text


def test_gateway_own_paths_folded_health_and_metrics_left_out(gateway):
    client = gateway()
    for path in ("/health", "/health/live", "/metrics", "/no/such/page", "/api/openapi.json"):
        client.get(path)
    # The merged document is an APIRoute of the gateway's own, labelled by its template; unknown paths
    # fold into <unmatched>; no raw path becomes a label.
    routes = {s["route"] for s, _ in samples(client, "http_requests_total")}
    assert routes == {UNMATCHED_ROUTE, "/api/openapi.json"}
    assert sample(client, "http_requests_total") == 2


def test_upstream_answers_counted_by_service_and_status(gateway, auth):
    client = gateway()
    for status in (200, 200, 404, 500):
        client.get(f"/api/v1/customers/1?status={status}", headers=auth("staff"))
    assert sample(client, "gateway_upstream_requests_total", service="profile", status="200") == 2
    assert sample(client, "gateway_upstream_requests_total", service="profile", status="404") == 1
    assert sample(client, "gateway_upstream_errors_total", service="profile", kind="5xx") == 1
    assert sample(client, "gateway_upstream_request_duration_seconds_count", service="profile") == 4


@pytest.mark.parametrize(
    ("overrides", "path", "kind"),
    [
        ({"read_timeout_seconds": 0.2}, "/api/v1/customers/1?sleep=3", "timeout"),
        ({"profile_url": "dead"}, "/api/v1/customers/1", "refused"),
    ],
)
def test_upstream_failures_counted_by_kind(gateway, dead_url, auth, overrides, path, kind):
    if overrides.get("profile_url") == "dead":
        overrides = {"profile_url": dead_url}
    client = gateway(**overrides)
    client.get(path, headers=auth("staff"))
    assert sample(client, "gateway_upstream_errors_total", service="profile", kind=kind) == 1
    assert sample(client, "gateway_upstream_errors_total", service="profile") == 1
    assert sample(client, "gateway_upstream_requests_total", service="profile", status="error") == 1


def test_upstream_error_series_exist_before_any_failure(gateway):
    kinds = {(s["service"], s["kind"]) for s, v in samples(gateway(), "gateway_upstream_errors_total") if v == 0}
    assert {("profile", k) for k in ("timeout", "refused", "5xx")} <= kinds
    assert ("loyalty", "refused") in kinds
