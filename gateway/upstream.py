"""The gateway's upstream connections as settings make them (timeouts, one pool per service URL), and
its own calls to the services (health checks, the OpenAPI merge): plain GETs over gateway.h1pool, the
stack the proxy uses, on pools of their own so that a busy proxy never holds up a health check."""

import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

from gateway.config import GatewaySettings
from gateway.h1pool import Answer, Pool, Timeouts


def upstream_timeouts(settings: GatewaySettings) -> Timeouts:
    return Timeouts(
        connect=settings.connect_timeout_seconds,
        read=settings.read_timeout_seconds,
        pool=settings.pool_timeout_seconds,
        keepalive=settings.keepalive_expiry_seconds,
    )


def open_pool(base_url: str, limit: int, timeouts: Timeouts) -> tuple[Pool, str]:
    """A pool for the URL's origin, and the URL's path (no trailing slash) to put before each target."""
    url = urlsplit(base_url)
    tls = ssl.create_default_context() if url.scheme == "https" else None
    port = url.port or (443 if tls else 80)
    return Pool(url.hostname or "", port, limit, timeouts, tls), url.path.rstrip("/")


class UpstreamClient:
    """GETs for the gateway's own calls; lives from startup to shutdown. No retries, no cookies, no
    headers but the caller's (and Host)."""

    def __init__(self, settings: GatewaySettings):
        self.limit = settings.max_connections
        self.timeouts = upstream_timeouts(settings)
        self.pools: dict[str, tuple[Pool, str]] = {}  # base URL -> (pool, path prefix)

    async def get(self, base_url: str, path: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> Answer:
        """The answer with its whole body read (`body`, `json()`). Raises gateway.h1pool.UpstreamError,
        or UpstreamTimeoutError for a connect, pool or read timeout. The caller bounds the whole call
        (asyncio.timeout): a call cancelled midway closes its connection rather than reusing it."""
        found = self.pools.get(base_url)
        if found is None:
            found = self.pools[base_url] = open_pool(base_url, self.limit, self.timeouts)
        pool, base_path = found
        answer = await pool.request("GET", base_path + path, list(headers), b"")
        try:
            await answer.read()
        finally:
            answer.close()
        return answer

    def close(self) -> None:
        for pool, _ in self.pools.values():
            pool.close()
