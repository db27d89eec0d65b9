"""/health aggregates every configured service's readiness into ok, degraded or down."""

import pytest

from gateway.health import ServiceHealth, overall_status


def _body(r) -> tuple[str, dict[str, str]]:
    body = r.json()
    return body["status"], {name: s["status"] for name, s in body["services"].items()}


def test_health_all_ready_ok_200(gateway, serve):
    loyalty = serve()
    r = gateway(loyalty_url=loyalty.url).get("/health")
    assert r.status_code == 200
    assert _body(r) == ("ok", {"profile": "ok", "loyalty": "ok"})
    for service in r.json()["services"].values():
        assert service["latency_ms"] >= 0 and service["detail"] == "ready"


def test_health_non_critical_service_down_degraded_200(gateway, dead_url):
    r = gateway(segmentation_url=dead_url).get("/health")
    assert r.status_code == 200
    assert _body(r) == ("degraded", {"profile": "ok", "segmentation": "down"})
    assert r.json()["services"]["segmentation"]["detail"] == "unreachable"


def test_health_profile_down_down_503(gateway, serve, dead_url):
    r = gateway(profile_url=dead_url, feedback_url=serve().url).get("/health")
    assert r.status_code == 503
    assert _body(r) == ("down", {"profile": "down", "feedback": "ok"})


def test_health_all_down_503(gateway, dead_url):
    r = gateway(profile_url=dead_url, loyalty_url=dead_url).get("/health")
    assert r.status_code == 503
    assert _body(r) == ("down", {"profile": "down", "loyalty": "down"})


def test_health_service_not_ready_counts_down(gateway, serve):
    feedback = serve()
    feedback.ready_status = 503
    r = gateway(feedback_url=feedback.url).get("/health")
    assert _body(r) == ("degraded", {"profile": "ok", "feedback": "down"})
    assert r.json()["services"]["feedback"]["detail"] == "not ready (503)"


def test_health_slow_service_timeout_down(gateway, serve):
    loyalty = serve()
    loyalty.ready_delay = 5
    r = gateway(loyalty_url=loyalty.url, health_timeout_seconds=0.2).get("/health")
    assert _body(r) == ("degraded", {"profile": "ok", "loyalty": "down"})
    assert r.json()["services"]["loyalty"]["detail"] == "timeout"


def test_health_services_checked_concurrently(gateway, serve):
    # Each answers only once the other has been asked: checked one after another, the first would
    # time out waiting.
    loyalty, feedback = serve(), serve()
    loyalty.ready_waits_for, feedback.ready_waits_for = feedback.ready_called, loyalty.ready_called
    r = gateway(loyalty_url=loyalty.url, feedback_url=feedback.url, health_timeout_seconds=3).get("/health")
    assert _body(r) == ("ok", {"profile": "ok", "feedback": "ok", "loyalty": "ok"})


def test_health_unconfigured_services_not_listed(gateway):
    assert set(gateway().get("/health").json()["services"]) == {"profile"}


def test_health_critical_services_setting(gateway, serve, dead_url):
    r = gateway(profile_url=dead_url, loyalty_url=serve().url, critical_services="loyalty").get("/health")
    assert (r.status_code, r.json()["status"]) == (200, "degraded")


def test_health_live_and_ready_gateway_only(gateway, dead_url):
    client = gateway(profile_url=dead_url)
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/health/ready").json() == {"status": "ok"}


def _h(status: str) -> ServiceHealth:
    return ServiceHealth(status=status, latency_ms=1.0, detail="")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ({"profile": "ok", "loyalty": "ok"}, "ok"),
        ({"profile": "ok", "loyalty": "down"}, "degraded"),
        ({"profile": "down", "loyalty": "ok"}, "down"),
        ({"profile": "down", "loyalty": "down"}, "down"),
        ({"loyalty": "down", "feedback": "ok"}, "degraded"),
        ({"loyalty": "down"}, "down"),
        ({}, "down"),
    ],
)
def test_overall_status_rules(statuses, expected):
    services = {name: _h(status) for name, status in statuses.items()}
    assert overall_status(services, frozenset({"profile"})) == expected
