"""Connection limits in every process (the gateway and each service), below the app, where uvicorn
alone has none: a connection that has not sent a whole request head within `header_timeout_seconds`,
or whose body stalls that long, is closed (408 problem+json when it had sent something); past
`connection_limit` open connections, the oldest idle one is closed to make room, or, when none is
idle, the new one is answered 503 `too_many_connections`. services.common.serve's protocol reports
each connection's state here; the app's /metrics shows the counts (`http_connections_*`)."""

import asyncio
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common.config import BaseServiceSettings
from services.common.limits import problem_message

DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
MAX_DEFAULT_LIMIT = 10_000
REFUSAL_RETRY_AFTER_SECONDS = 1
# Why a connection was closed by the limits; each is a label value of http_connections_closed_total.
# silent: nothing (more) sent within the timeout; head_timeout and body_timeout were answered 408.
REASONS = ("evicted", "refused", "silent", "head_timeout", "body_timeout")


def default_connection_limit() -> int:
    """Half the soft open-files limit (the rest is for upstream and database connections, files and
    the refusals' own brief sockets), at most MAX_DEFAULT_LIMIT."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_DEFAULT_LIMIT
    return max(1, min(MAX_DEFAULT_LIMIT, soft // 2))


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    connection_limit: int = 0  # 0: default_connection_limit()

    @property
    def limit(self) -> int:
        return self.connection_limit or default_connection_limit()


class ConnectionCounts:
    """This process's counts, whichever server (there is one per process) made them."""

    def __init__(self) -> None:
        self.closed = dict.fromkeys(REASONS, 0)
        self.open = 0
        self.limits = ConnectionLimits()


COUNTS = ConnectionCounts()


class Guarded(Protocol):
    """What the guard needs from a connection (services.common.serve's protocol)."""

    def stalled(self, now: float, timeout: float) -> str | None:
        """A REASONS value when the connection must close now (a timeout), else None."""

    def close_for(self, reason: str) -> None:
        """Answers as `reason` calls for (408, or nothing) and closes."""


class ConnectionGuard:
    """One per server: the open connections, oldest first, and those idle (connected or kept alive
    with no request begun), oldest idle first; a connection moves itself in and out of `idle`. A
    sweep every quarter of the timeout (at most 1 s) closes the connections that ran out of time; it
    runs only while connections are open."""

    def __init__(self, limits: ConnectionLimits, loop: asyncio.AbstractEventLoop):
        self.limits = limits
        self.limit = limits.limit
        self.timeout = limits.header_timeout_seconds
        self.loop = loop
        self.open: dict[Guarded, None] = {}
        self.idle: dict[Guarded, None] = {}
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._period = max(0.05, min(1.0, self.timeout / 4))
        COUNTS.limits = limits

    def admit(self, conn: Guarded) -> bool:
        """Counts a new connection in; at the limit, first closes the oldest idle one. False (and
        nothing counted in) when every open connection is busy: the caller answers 503."""
        if len(self.open) >= self.limit:
            if not self.idle:
                COUNTS.closed["refused"] += 1
                return False
            oldest = next(iter(self.idle))
            self.forget(oldest)
            COUNTS.closed["evicted"] += 1
            oldest.close_for("evicted")
        self.open[conn] = None
        self.idle[conn] = None
        COUNTS.open = len(self.open)
        if self._sweep_handle is None:
            self._sweep_handle = self.loop.call_later(self._period, self._sweep)
        return True

    def forget(self, conn: Guarded) -> None:
        if conn in self.open:
            del self.open[conn]
            self.idle.pop(conn, None)
            COUNTS.open = len(self.open)

    def _sweep(self) -> None:
        now = self.loop.time()
        for conn in list(self.open):
            reason = conn.stalled(now, self.timeout)
            if reason is not None:
                self.forget(conn)
                COUNTS.closed[reason] += 1
                conn.close_for(reason)
        self._sweep_handle = self.loop.call_later(self._period, self._sweep) if self.open else None


def problem_answer(status: int, code: str, detail: str, request_id: str, retry_after: int | None = None) -> bytes:
    """A whole HTTP/1.1 problem+json answer that closes the connection, for the server to write
    itself where no app is involved (no whole request arrived, or none is admitted)."""
    extra = [(b"connection", b"close"), (b"x-request-id", request_id.encode())]
    if retry_after is not None:
        extra.append((b"retry-after", str(retry_after).encode()))
    headers, body = problem_message(status, code, detail, extra, request_id=request_id)
    lines = [f"HTTP/1.1 {status} {_PHRASES[status]}\r\n".encode()]
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    return b"".join([*lines, b"\r\n", body])


_PHRASES = {408: "Request Timeout", 503: "Service Unavailable"}


class ConnectionCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        closed = CounterMetricFamily(
            "http_connections_closed",
            "Connections closed by the process's connection limits: evicted (idle, to make room) or "
            "refused (503) at the limit; silent, head_timeout, body_timeout (408) after the header timeout",
            labels=["reason"],
        )
        for reason, count in COUNTS.closed.items():
            closed.add_metric([reason], count)
        open_ = GaugeMetricFamily("http_connections_open", "Client connections open now", value=COUNTS.open)
        limit = GaugeMetricFamily(
            "http_connections_limit", "Client connections the process keeps open at most", value=COUNTS.limits.limit
        )
        return [closed, open_, limit]

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only


_configured = ConnectionLimits()


def configured_limits() -> ConnectionLimits:
    """What the app this process serves asked for (install_connection_limits); defaults otherwise."""
    return _configured


def install_connection_limits(registry: CollectorRegistry, settings: BaseServiceSettings) -> None:
    """Called by an app factory: the server applies the settings' limits to the connections it accepts
    for this app (one app per process), and the app's registry exports the counts."""
    global _configured  # noqa: PLW0603 - one serving app per process; read when its server starts
    _configured = COUNTS.limits = ConnectionLimits(settings.header_timeout_seconds, settings.connection_limit)
    registry.register(ConnectionCollector())
