"""Rate limits per caller (the token's subject) and route class (reads, writes, bulk ingest), counted
by the `limits` library in memory (one replica) or in Redis (shared by every replica); the default
strategy in memory is gateway.ratelimit_memory, the same arithmetic at a tenth of the cost."""

import logging
import math
import time
from collections.abc import Callable
from typing import Literal, Protocol

from limits import RateLimitItem, parse_many
from limits.aio import storage, strategies
from limits.errors import StorageError
from limits.util import WindowStats

from gateway.config import GatewaySettings
from gateway.metrics import UpstreamMetrics
from gateway.ratelimit_memory import MemorySlidingWindowCounter
from services.common.auth import Principal
from services.common.errors import ProblemError

log = logging.getLogger("gateway.ratelimit")

RouteClass = Literal["reads", "writes", "bulk"]
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Strategy(Protocol):
    """What the limiter uses of a `limits` strategy (and of MemorySlidingWindowCounter)."""

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool: ...

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats: ...


_STRATEGIES: dict[str, Callable[[storage.Storage], Strategy]] = {
    "moving-window": strategies.MovingWindowRateLimiter,
    "fixed-window": strategies.FixedWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
}


class RateLimited(ProblemError):
    status = 429
    code = "rate_limited"


def route_class(method: str, path: str) -> RouteClass:
    """Bulk ingest is a custom `:batch` method (/v1/transactions:batch) whatever its verb."""
    if path.endswith(":batch"):
        return "bulk"
    return "reads" if method in READ_METHODS else "writes"


class RateLimiter:
    """`check` raises RateLimited (429 with Retry-After) once the caller has used its class's limit.
    When the storage cannot be reached the request is let through and counted: a Redis outage must not
    take every service down with it. After such a failure the storage is left alone for
    STORAGE_BACKOFF_SECONDS, so that an outage does not add a connect timeout to every request."""

    STORAGE_BACKOFF_SECONDS = 5.0

    def __init__(self, settings: GatewaySettings, metrics: UpstreamMetrics):
        self.metrics = metrics
        self.enabled = settings.rate_limit_enabled
        self.limits: dict[str, list[RateLimitItem]] = {
            "reads": parse_many(settings.rate_limit_reads),
            "writes": parse_many(settings.rate_limit_writes),
            "bulk": parse_many(settings.rate_limit_bulk),
        }
        strategy = settings.rate_limit_strategy
        self.backend = "redis" if settings.redis_url else "memory"
        self.strategy: Strategy
        if settings.redis_url:
            # Short socket timeouts: a stalled Redis costs a request at most this, then it fails open.
            self.strategy = _STRATEGIES[strategy](
                storage.RedisStorage(
                    settings.redis_url,
                    implementation="coredis",
                    wrap_exceptions=True,
                    key_prefix="gateway",
                    stream_timeout=0.25,
                    connect_timeout=0.25,
                )
            )
        elif strategy == "sliding-window-counter":
            self.strategy = MemorySlidingWindowCounter()
        else:
            self.strategy = _STRATEGIES[strategy](storage.MemoryStorage())
        self.skip_until = 0.0

    async def check(self, principal: Principal, method: str, path: str) -> None:
        if not self.enabled or (self.skip_until and time.monotonic() < self.skip_until):
            return
        klass = route_class(method, path)
        try:
            for item in self.limits[klass]:
                if not await self.strategy.hit(item, klass, principal.sub):
                    await self._refuse(klass, item, principal.sub)
        except StorageError as err:
            self.skip_until = time.monotonic() + self.STORAGE_BACKOFF_SECONDS
            self.metrics.rate_limit_errors.inc()
            log.warning(
                "rate limit storage unavailable",
                extra={"fields": {"backend": self.backend, "error": type(err.storage_error).__name__}},
            )

    async def _refuse(self, klass: str, item: RateLimitItem, sub: str) -> None:
        stats = await self.strategy.get_window_stats(item, klass, sub)
        reset = stats.reset_time if stats.reset_time > time.time() else time.time() + item.get_expiry()
        retry_after = max(1, math.ceil(reset - time.time()))
        self.metrics.rate_limited.labels(klass).inc()
        raise RateLimited(
            f"Too many {klass} requests: the limit is {item.amount} per {item.multiples} {item.GRANULARITY.name}",
            headers={"Retry-After": str(retry_after)},
            route_class=klass,
            limit=str(item),
        )
