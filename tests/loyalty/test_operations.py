"""Health, readiness with feed consumers, the points feed's roles, metrics, and the OpenAPI document."""

import time

import pytest
from fastapi.testclient import TestClient

from services.loyalty.app import create_app
from tests.loyalty.conftest import loyalty_settings


def test_health_live_and_ready(client):
    assert client.get("/health/live").json()["status"] == "ok"
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["migrations"] == "at head"


# SQLite only: a background thread cannot share the PostgreSQL fixture's single test connection.
@pytest.mark.parametrize("loyalty_db", ["sqlite"], indirect=True)
def test_consumers_are_built_for_configured_feeds_and_join_readiness(loyalty_db):
    settings = loyalty_settings(loyalty_db.url).model_copy(
        update={"profile_feed_url": "http://127.0.0.1:9/v1/events", "feed_idle_seconds": 0.05}
    )
    app = create_app(settings, db=loyalty_db)
    assert sorted(app.state.consumers) == ["profile"]
    with TestClient(app) as c:  # the consumer thread starts, fails to reach the feed, and keeps polling
        ready = c.get("/health/ready").json()
        assert ready["checks"]["profile_feed"] == "0 events behind profile's feed"
        metrics = c.get("/metrics").text
        assert 'feed_consumer_lag_events{consumer="loyalty-profile",feed="profile"} 0.0' in metrics
        failures = 'feed_consumer_poll_failures_total{consumer="loyalty-profile",feed="profile",reason="connect"}'
        assert failures in metrics


def test_points_feed_is_for_system_and_admin(client, auth):
    assert client.get("/v1/events", headers=auth("system")).status_code == 200
    assert client.get("/v1/events", headers=auth("admin")).status_code == 200
    assert client.get("/v1/events", headers=auth("staff")).status_code == 403
    assert client.get("/v1/events").status_code == 401


def test_unknown_query_parameter_is_422(client, auth):
    resp = client.get("/v1/loyalty/rewards", params={"colour": "red"}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "colour"]


def test_every_route_documents_its_errors(loyalty_app):
    paths = loyalty_app.openapi()["paths"]
    # Its own prefix, plus what every service serves for other services and the gateway alone.
    assert all(path.startswith(("/v1/loyalty/", "/v1/events", "/v1/personal-data/", "/health")) for path in paths)
    for path, ops in paths.items():
        for method, op in ops.items():
            if path.startswith("/v1/"):
                assert {"401", "422"} <= set(op["responses"]), (method, path)


@pytest.mark.parametrize("loyalty_db", ["sqlite"], indirect=True)
def test_readiness_is_503_naming_the_feed_that_cannot_be_read(loyalty_db):
    settings = loyalty_settings(loyalty_db.url).model_copy(
        update={
            "profile_feed_url": "http://127.0.0.1:9/v1/events",
            "feed_idle_seconds": 0.05,
            "consumer_max_silence_seconds": 0.3,
        }
    )
    with TestClient(create_app(settings, db=loyalty_db)) as c:
        deadline = time.monotonic() + 10
        while (ready := c.get("/health/ready")).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.status_code == 503
        detail = ready.json()["checks"]["profile_feed"]
        assert detail.startswith("profile's feed http://127.0.0.1:9/v1/events not consumed for")
        assert detail.endswith("(connect)")
