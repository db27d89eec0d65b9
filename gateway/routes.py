"""The route table: which service owns a /v1 path, by longest matching prefix, built from settings."""

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.config import EVENT_FEED_PREFIX, GatewaySettings

API_PREFIX = "/api"


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str  # as the service serves it: /v1/customers
    service: str
    base_url: str  # "" when the service is not configured

    @property
    def label(self) -> str:
        """The public prefix, used as the metrics route label for every request it matches."""
        return API_PREFIX + self.prefix


def _is_under(path: str, prefix: str) -> bool:
    # A prefix owns itself and what lies below it: /v1/customers owns /v1/customers/1, not /v1/customersX.
    # ":" too, for custom methods such as /v1/transactions:batch.
    return path == prefix or path.startswith((prefix + "/", prefix + ":"))


class RouteTable:
    def __init__(self, routes: Iterable[Route]):
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> "RouteTable":
        return cls(Route(prefix, service, settings.service_url(service)) for prefix, service in settings.routes.items())

    def match(self, path: str) -> Route | None:
        """The route owning `path` (decoded, as the services see it), or None. Paths with dot segments
        are never routed: a URL library normalising `/v1/customers/../events` would reach a feed."""
        if _is_under(path, EVENT_FEED_PREFIX):
            return None
        if "/." in path and any(segment in (".", "..") for segment in path.split("/")):
            return None
        for route in self.routes:
            if _is_under(path, route.prefix):
                return route
        return None
