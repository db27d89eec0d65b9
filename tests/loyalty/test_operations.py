"""Health, readiness with feed consumers, the points feed's roles, metrics, and the OpenAPI document."""

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
        assert ready["checks"]["profile_feed"] == "0 events behind loyalty-profile's feed"
        assert 'loyalty_feed_lag_events{feed="profile"} 0.0' in c.get("/metrics").text


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
    assert all(path.startswith(("/v1/loyalty/", "/v1/events", "/health")) for path in paths)
    for path, ops in paths.items():
        for method, op in ops.items():
            if path.startswith("/v1/"):
                assert {"401", "422"} <= set(op["responses"]), (method, path)
