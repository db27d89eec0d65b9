"""Gateway settings (environment prefix GATEWAY_): where each service lives, which prefixes it owns,
the upstream client's timeouts and pool, and the protections in front of the services (rate limits,
circuit breakers, retry budget, size and time limits, CORS)."""

from typing import Any, Literal, Self

from limits import parse_many
from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.config import BaseServiceSettings, peer_url, with_derived

SERVICES = ("profile", "segmentation", "feedback", "loyalty")
# Each service's outbox feed; it is for other services, never for clients.
EVENT_FEED_PREFIX = "/v1/events"

# Every prefix belongs to exactly one service.
DEFAULT_ROUTES: dict[str, str] = {
    "/v1/customers": "profile",
    "/v1/transactions": "profile",
    "/v1/asset-snapshots": "profile",
    "/v1/branches": "profile",
    "/v1/segments": "segmentation",
    "/v1/memberships": "segmentation",
    "/v1/recomputes": "segmentation",
    "/v1/products": "segmentation",
    "/v1/recommendations": "segmentation",
    "/v1/surveys": "feedback",
    "/v1/complaints": "feedback",
    "/v1/follow-ups": "feedback",
    "/v1/improvement-actions": "feedback",
    "/v1/loyalty": "loyalty",
}


class GatewaySettings(BaseServiceSettings):
    """Each service is reached at GATEWAY_<SERVICE>_URL; unset, at its port on this machine
    (services.common.config.suite_port, which SUITE_PORT_BASE moves); empty means not configured (503)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    port: int = 8000
    profile_url: str = ""
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

    # Customer overview: every part is fetched at once, and whatever has not arrived by then is
    # named in `partial`.
    overview_budget_seconds: float = 2.0
    # Personal-data export: every service's part is asked for at once; a part not in by then is named
    # in `missing` (profile's, the person's record, makes the export a 503).
    export_budget_seconds: float = 10.0

    # Rate limits per token subject and route class, in the `limits` library's notation
    # ("600/minute", "10/second; 500/hour"). Memory by default (per replica); shared through Redis
    # when GATEWAY_REDIS_URL is set (redis://host:port/db).
    rate_limit_enabled: bool = True
    rate_limit_reads: str = "1200/minute"
    rate_limit_writes: str = "300/minute"
    rate_limit_bulk: str = "30/minute"
    # The sliding-window counter: two counters per caller and class (moving-window keeps every hit, and
    # its in-memory expiry hops to a thread for each key).
    rate_limit_strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = "sliding-window-counter"
    redis_url: str = ""

    # Circuit breaker per upstream: opens after this many failures in a row, answers 503 at once
    # while open, lets one probe through after the cool-down, closes on its success.
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 10.0

    # Retries of idempotent requests after a connection-level failure: at most this share of the
    # upstream's requests, plus a small reserve so that a quiet gateway can still retry.
    retry_budget_ratio: float = 0.1
    retry_budget_reserve: int = 10

    max_header_bytes: int = 16_384
    request_timeout_seconds: float = 30.0  # whole request, end to end, including retries
    # Web frontends allowed to call from a browser: comma-separated origins (https://app.example.cn).
    cors_origins: str = ""
    openapi_cache_seconds: float = 30.0
    openapi_fetch_timeout_seconds: float = 5.0  # a service builds its document on first request: slow

    @model_validator(mode="before")
    @classmethod
    def _derive_service_urls(cls, values: Any) -> Any:
        return with_derived(values, {f"{name}_url": peer_url(name) for name in SERVICES})

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
    def _positive_limits(self) -> Self:
        numbers = (
            "connect_timeout_seconds",
            "read_timeout_seconds",
            "pool_timeout_seconds",
            "keepalive_expiry_seconds",
            "max_connections",
            "health_timeout_seconds",
            "overview_budget_seconds",
            "export_budget_seconds",
            "breaker_failure_threshold",
            "breaker_reset_seconds",
            "max_header_bytes",
            "request_timeout_seconds",
        )
        bad = [name for name in numbers if getattr(self, name) <= 0]
        if bad:
            raise ValueError(f"must be positive: {', '.join(bad)}")
        if not 0 <= self.retry_budget_ratio <= 1 or self.retry_budget_reserve < 0:
            raise ValueError("retry_budget_ratio must lie in [0, 1] and retry_budget_reserve be >= 0")
        for name in ("rate_limit_reads", "rate_limit_writes", "rate_limit_bulk"):
            try:
                parse_many(getattr(self, name))
            except ValueError:
                raise ValueError(f"{name} is not a rate limit such as 600/minute") from None
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return self

    def service_url(self, service: str) -> str:
        """The service's base URL, or "" when it is not configured."""
        url: str = getattr(self, f"{service}_url")
        return url

    def configured_services(self) -> dict[str, str]:
        return {name: self.service_url(name) for name in SERVICES if self.service_url(name)}

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def critical_service_set(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.critical_services.split(",") if s.strip())
