"""Gateway settings (environment prefix GATEWAY_): where each service lives, which prefixes it owns,
and the upstream client's timeouts and pool."""

from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.config import BaseServiceSettings

SERVICES = ("profile", "segmentation", "feedback", "loyalty")
# Each service's outbox feed; it is for other services, never for clients (DESIGN.md).
EVENT_FEED_PREFIX = "/v1/events"

# DESIGN.md: every prefix belongs to exactly one service.
DEFAULT_ROUTES: dict[str, str] = {
    "/v1/customers": "profile",
    "/v1/transactions": "profile",
    "/v1/segments": "segmentation",
    "/v1/memberships": "segmentation",
    "/v1/recomputes": "segmentation",
    "/v1/products": "segmentation",
    "/v1/recommendations": "segmentation",
    "/v1/surveys": "feedback",
    "/v1/complaints": "feedback",
    "/v1/follow-ups": "feedback",
    "/v1/loyalty": "loyalty",
}


class GatewaySettings(BaseServiceSettings):
    """A service joins by setting GATEWAY_<SERVICE>_URL; an empty URL means not configured (503)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    port: int = 8000
    profile_url: str = "http://127.0.0.1:8001"
    segmentation_url: str = ""
    feedback_url: str = ""
    loyalty_url: str = ""
    # Path prefix (as the services serve it) -> service; GATEWAY_ROUTES takes a JSON object.
    routes: dict[str, str] = DEFAULT_ROUTES
    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 15.0
    pool_timeout_seconds: float = 5.0  # waiting for a free pooled connection
    # Below uvicorn's 5 s idle timeout, so the gateway never reuses a connection the upstream is closing.
    keepalive_expiry_seconds: float = 4.0
    max_connections: int = 200
    max_body_bytes: int = 1_048_576
    health_timeout_seconds: float = 1.0
    # /health says "down" when any of these is down: profile is the system of record every other
    # service's data refers to.
    critical_services: str = "profile"

    @field_validator("profile_url", "segmentation_url", "feedback_url", "loyalty_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("a service URL must start with http:// or https://")
        return value

    @field_validator("routes")
    @classmethod
    def _valid_routes(cls, routes: dict[str, str]) -> dict[str, str]:
        for prefix, service in routes.items():
            if service not in SERVICES:
                raise ValueError(f"route {prefix} names an unknown service {service!r}")
            if not prefix.startswith("/v1/") or prefix.endswith("/") or "//" in prefix:
                raise ValueError(f"route prefix {prefix!r} must look like /v1/<name>")
            if prefix == EVENT_FEED_PREFIX or prefix.startswith(EVENT_FEED_PREFIX + "/"):
                raise ValueError("event feeds are for services, not clients: /v1/events is never routed")
        return routes

    @model_validator(mode="after")
    def _positive_limits(self):
        numbers = (
            "connect_timeout_seconds",
            "read_timeout_seconds",
            "pool_timeout_seconds",
            "keepalive_expiry_seconds",
            "max_connections",
            "health_timeout_seconds",
        )
        bad = [name for name in numbers if getattr(self, name) <= 0]
        if bad:
            raise ValueError(f"must be positive: {', '.join(bad)}")
        return self

    def service_url(self, service: str) -> str:
        """The service's base URL, or "" when it is not configured."""
        return getattr(self, f"{service}_url")

    def configured_services(self) -> dict[str, str]:
        return {name: self.service_url(name) for name in SERVICES if self.service_url(name)}

    @property
    def critical_service_set(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.critical_services.split(",") if s.strip())
