"""Pure ASGI middleware: X-Request-ID in and out, route-template metrics and one access-log line."""

import itertools
import logging
import os
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.context import reset_request_id, set_request_id
from services.common.metrics import UNMATCHED_ROUTE, HttpMetrics

access_log = logging.getLogger("access")
QUIET_ROUTES = frozenset({"/v1/events"})  # the event feeds other services poll
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SKIP_PATHS = ("/metrics", "/health")


class _RequestIds:
    """32 hex digits, like uuid4().hex, without a system call per request: 64 random bits drawn once
    per process (again in a forked child), then a 64-bit counter scrambled by a random odd multiplier
    (a bijection, so never a repeat within a process, and no readable request count for a client)."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count(secrets.randbits(64))
        self.multiplier = secrets.randbits(64) | 1

    def next(self) -> str:
        return f"{self.prefix}{(next(self.counter) * self.multiplier) & 0xFFFFFFFFFFFFFFFF:016x}"


new_request_id = _RequestIds().next


def incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _SAFE_ID.match(text):
                return text
            break
    return new_request_id()


def route_template(scope: Scope) -> str:
    """The matched route's template; an app may name its own label in scope state `metrics_route`
    (the gateway labels proxied calls by route-table prefix). Never the raw path."""
    override = scope.get("state", {}).get("metrics_route")
    if override:
        return str(override)
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED_ROUTE


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = set_request_id(request_id)
        status = 500
        header = (b"x-request-id", request_id.encode("latin-1"))
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            path = scope["path"]
            if not path.startswith(SKIP_PATHS):
                route = route_template(scope)
                self.metrics.observe(scope["method"], route, status, elapsed)
                # A consumer polls its feed every second or so: a successful poll is a DEBUG line, so
                # an idle suite's log carries what people did, not the polls (a failed one stays INFO).
                level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
                if access_log.isEnabledFor(level):
                    access_log.log(
                        level,
                        "request",
                        extra={
                            "fields": {
                                "method": scope["method"],
                                "route": route,
                                "status": status,
                                "duration_ms": round(elapsed * 1000, 2),
                            }
                        },
                    )
            reset_request_id(token)
