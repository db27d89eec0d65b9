"""The route table as data: longest prefix first, segment boundaries, event feeds and dot segments
never routed, settings validated."""

import pytest
from pydantic import ValidationError

from gateway.config import DEFAULT_ROUTES, GatewaySettings
from gateway.routes import Route, RouteTable
from tests.gateway.conftest import gateway_settings


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/customers", "profile"),
        ("/v1/customers/9b1d/close", "profile"),
        ("/v1/transactions", "profile"),
        ("/v1/asset-snapshots:batch", "profile"),
        ("/v1/segments/s1", "segmentation"),
        ("/v1/memberships", "segmentation"),
        ("/v1/recomputes", "segmentation"),
        ("/v1/products/p1", "segmentation"),
        ("/v1/recommendations", "segmentation"),
        ("/v1/surveys", "feedback"),
        ("/v1/complaints/c1/steps", "feedback"),
        ("/v1/follow-ups", "feedback"),
        ("/v1/loyalty/accounts/9b1d", "loyalty"),
    ],
)
def test_match_design_prefixes_owning_service(path, service):
    table = RouteTable.from_settings(gateway_settings(profile_url="http://p"))
    assert table.match(path).service == service


def test_match_overlapping_prefixes_longest_wins():
    table = RouteTable(
        [Route("/v1/customers", "profile", "http://p"), Route("/v1/customers/vip", "segmentation", "http://s")]
    )
    assert table.match("/v1/customers/vip/42").service == "segmentation"
    assert table.match("/v1/customers/vip").service == "segmentation"
    assert table.match("/v1/customers/vipx").service == "profile"
    assert table.match("/v1/customers/42").service == "profile"


@pytest.mark.parametrize("path", ["/v1/customersX", "/v1/accounts", "/v1", "/v1/", "/v2/customers"])
def test_match_unknown_prefix_none(path):
    assert RouteTable.from_settings(gateway_settings()).match(path) is None


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/", "/v1/events/123"])
def test_match_event_feed_never_routed(path):
    table = RouteTable([Route("/v1", "profile", "http://p")])  # even a table that would cover it
    assert table.match(path) is None


@pytest.mark.parametrize("path", ["/v1/customers/../events", "/v1/customers/./x", "/v1/loyalty/a/../../events"])
def test_match_dot_segments_none(path):
    assert RouteTable.from_settings(gateway_settings()).match(path) is None


def test_match_unconfigured_service_route_without_url():
    route = RouteTable.from_settings(gateway_settings(profile_url="http://p")).match("/v1/surveys")
    assert (route.service, route.base_url, route.label) == ("feedback", "", "/api/v1/surveys")


def _suite_env_cleared(monkeypatch) -> None:
    for name in ("GATEWAY", "PROFILE", "SEGMENTATION", "FEEDBACK", "LOYALTY"):
        monkeypatch.delenv(f"GATEWAY_{name}_URL", raising=False)
        monkeypatch.delenv(f"{name}_PORT", raising=False)
    monkeypatch.delenv("SUITE_PORT_BASE", raising=False)


def test_defaults_every_service_at_its_default_port(monkeypatch):
    _suite_env_cleared(monkeypatch)
    settings = GatewaySettings()
    assert settings.port == 8000
    assert settings.configured_services() == {
        "profile": "http://127.0.0.1:8001",
        "segmentation": "http://127.0.0.1:8002",
        "feedback": "http://127.0.0.1:8003",
        "loyalty": "http://127.0.0.1:8004",
    }
    assert settings.routes == DEFAULT_ROUTES


def test_defaults_one_port_base_moves_every_service(monkeypatch):
    _suite_env_cleared(monkeypatch)
    monkeypatch.setenv("SUITE_PORT_BASE", "9100")
    monkeypatch.setenv("LOYALTY_PORT", "9999")  # a service's own port wins over the base
    settings = GatewaySettings()
    assert settings.port == 9100
    assert settings.configured_services() == {
        "profile": "http://127.0.0.1:9101",
        "segmentation": "http://127.0.0.1:9102",
        "feedback": "http://127.0.0.1:9103",
        "loyalty": "http://127.0.0.1:9999",
    }


def test_defaults_empty_url_leaves_service_unconfigured(monkeypatch):
    _suite_env_cleared(monkeypatch)
    monkeypatch.setenv("GATEWAY_FEEDBACK_URL", "")
    assert "feedback" not in GatewaySettings().configured_services()


def test_settings_service_joins_by_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_LOYALTY_URL", "http://127.0.0.1:8004/")
    route = RouteTable.from_settings(GatewaySettings()).match("/v1/loyalty/accounts/1")
    assert route.base_url == "http://127.0.0.1:8004"


@pytest.mark.parametrize(
    "routes",
    [
        {"/v1/events": "profile"},
        {"/v1/events/x": "loyalty"},
        {"/v1/customers": "nosuch"},
        {"customers": "profile"},
        {"/v1/customers/": "profile"},
    ],
)
def test_settings_bad_routes_refused(routes):
    with pytest.raises(ValidationError):
        gateway_settings(routes=routes)


def test_settings_non_http_url_refused():
    with pytest.raises(ValidationError):
        gateway_settings(profile_url="ftp://profile")


@pytest.mark.parametrize("path", ["/v1/transactions:batch", "/v1/customers:batch", "/v1/customers/1:close"])
def test_match_custom_method_colon_belongs_to_prefix(path):
    table = RouteTable.from_settings(gateway_settings(profile_url="http://p"))
    assert table.match(path).service == "profile"
    assert table.match("/v1/transactionsX") is None
