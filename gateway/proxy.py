"""The /api/v1 catch-all: checks the token at the edge, finds the owning service in the route table,
forwards the request over the pooled upstream connections (gateway.h1pool) and streams the answer back.

It is a pure ASGI handler that gateway.app.GatewayApp calls before FastAPI's stack: a proxied request
needs no parameter parsing, dependency solving or route matching, which were a third of the gateway's
CPU per proxied request. Its failures are the same problem documents the app's handlers write."""

import logging
import re
import time
from collections.abc import Callable
from functools import partial
from urllib.parse import quote

from starlette.routing import Route as StarletteRoute
from starlette.types import Receive, Scope, Send

from gateway.config import SERVICES, GatewaySettings
from gateway.h1pool import Answer, Pool, UpstreamError
from gateway.headers import forwarded_headers, relayed_headers
from gateway.metrics import UpstreamMetrics
from gateway.resilience import CircuitBreaker, CircuitState, RetryBudget
from gateway.upstream import open_pool, upstream_timeouts
from services.common.auth import Principal, TokenVerifier, bearer_token
from services.common.context import current_request_id
from services.common.errors import (
    NotFound,
    ProblemError,
    Unauthorized,
    UpstreamTimeout,
    UpstreamUnavailable,
    problem_response,
)
from services.common.metrics import UNMATCHED_ROUTE

log = logging.getLogger("gateway.proxy")

# Safe to send twice: RFC 9110 idempotent methods, and any request carrying an Idempotency-Key (the
# service answers a repeat with the first response). POST and PATCH without one are never retried.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Answers that say the upstream itself is in trouble (a 500 is one request's bug, not the service's).
BREAKER_STATUSES = frozenset({502, 503, 504})
_PATH_SAFE = "/:@!$&'()*+,;=~"
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=~._-]*")  # quote() would leave it as it is
PROXY_PREFIX = "/api/v1/"


class PayloadTooLarge(ProblemError):
    status = 413
    code = "payload_too_large"


def upstream_problem(service: str, kind: str) -> UpstreamTimeout | UpstreamUnavailable:
    if kind == "timeout":
        return UpstreamTimeout(f"The {service} service did not answer in time", service=service)
    return UpstreamUnavailable(f"The {service} service is unavailable", service=service)


async def relay(answer: Answer, service: str, label: str, metrics: UpstreamMetrics, started: float, send: Send) -> None:
    """Streams an upstream answer through as it arrives. The answer is always closed, which hands its
    connection back to the pool, and its metrics are recorded once the body is out."""
    interrupted = None
    try:
        await send(
            {"type": "http.response.start", "status": answer.status_code, "headers": relayed_headers(answer.headers)}
        )
        data, whole = answer.take()
        if whole:  # the common case: the whole body came with the headers
            await send({"type": "http.response.body", "body": data, "more_body": False})
            return
        if data:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        async for chunk in answer.chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except UpstreamError as err:
        interrupted = err.kind
        log.warning(
            "upstream body interrupted", extra={"fields": {"upstream": service, "route": label, "kind": interrupted}}
        )
        # Too late for a problem document: the status is out. Ending without the final body
        # message makes the server close the connection, so the client sees a truncated body,
        # never a short one that looks whole.
    finally:
        answer.close()
        metrics.answered(service, answer.status_code, time.perf_counter() - started)
        if interrupted:
            metrics.interrupted(service, interrupted)


class Forwarder:
    """Sends requests upstream over pooled connections, through each service's circuit breaker and
    retry budget; lives from startup to shutdown."""

    def __init__(self, metrics: UpstreamMetrics, settings: GatewaySettings):
        self.metrics = metrics
        self.settings = settings
        self.timeouts = upstream_timeouts(settings)
        self.pools: dict[str, tuple[Pool, str]] = {}  # base URL -> (pool, path prefix)
        self.breakers = {
            service: CircuitBreaker(
                settings.breaker_failure_threshold,
                settings.breaker_reset_seconds,
                on_change=partial(self._circuit_changed, service),
            )
            for service in SERVICES
        }
        self.budgets = {
            service: RetryBudget(settings.retry_budget_ratio, settings.retry_budget_reserve) for service in SERVICES
        }

    def _circuit_changed(self, service: str, state: CircuitState) -> None:
        self.metrics.circuit_state.labels(service).set(int(state))
        log.warning("circuit changed", extra={"fields": {"upstream": service, "circuit": state.label}})

    def pool_for(self, base_url: str) -> tuple[Pool, str]:
        found = self.pools.get(base_url)
        if found is None:
            found = self.pools[base_url] = open_pool(base_url, self.settings.max_connections, self.timeouts)
        return found

    def close(self) -> None:
        for pool, _ in self.pools.values():
            pool.close()

    def _circuit_open(self, service: str) -> UpstreamUnavailable:
        self.metrics.circuit_rejections.labels(service).inc()
        return UpstreamUnavailable(
            f"The {service} service is failing; the gateway is not sending it requests for now",
            code="circuit_open",
            service=service,
            headers={"Retry-After": str(self.breakers[service].retry_after())},
        )

    def _failed(
        self, service: str, label: str, method: str, err: UpstreamError, started: float
    ) -> UpstreamTimeout | UpstreamUnavailable:
        """Counts and logs a request that got no usable answer; returns the problem to answer with."""
        self.metrics.failed(service, err.kind, time.perf_counter() - started)
        fields = {"upstream": service, "route": label, "method": method, "kind": err.kind, "error": str(err)}
        log.warning("upstream failed", extra={"fields": fields})
        return upstream_problem(service, err.kind)

    async def send(
        self,
        service: str,
        base_url: str,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
        *,
        retryable: bool,
        stream: bool,
        label: str,
    ) -> tuple[Answer, float]:
        """The upstream's answer (headers in; the whole body too unless `stream`) and when sending
        began. `target` is the service's own path and query. Raises UpstreamUnavailable (503:
        unreachable, or `circuit_open` with Retry-After) or UpstreamTimeout (504). A connection-level
        failure is retried once when `retryable` and the service's retry budget allows; a timeout
        never is (the upstream may still be working on the first attempt). Non-streamed answers are
        counted here; a streamed one is counted by `relay` once its body is out."""
        breaker = self.breakers[service]
        if not breaker.allow():
            raise self._circuit_open(service)
        budget = self.budgets[service]
        budget.deposit()
        pool, base_path = self.pool_for(base_url)
        started = time.perf_counter()
        judged = False
        try:
            for attempt in (1, 2):
                try:
                    answer = await pool.request(method, base_path + target, headers, body)
                    if not stream:
                        try:
                            await answer.read()
                        finally:
                            answer.close()
                except UpstreamError as err:
                    kind = err.kind
                    if kind == "refused" and attempt == 1 and retryable:
                        if budget.withdraw():
                            self.metrics.retries.labels(service).inc()
                            continue
                        self.metrics.retries_refused.labels(service).inc()
                    breaker.failure()
                    judged = True
                    raise self._failed(service, label, method, err, started) from None
                if answer.status_code in BREAKER_STATUSES:
                    breaker.failure()
                else:
                    breaker.success()
                judged = True
                if not stream:
                    self.metrics.answered(service, answer.status_code, time.perf_counter() - started)
                return answer, started
            raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
        finally:
            if not judged:  # cancelled (caller gone, request timeout): no verdict on the upstream
                breaker.release()


class BodyIncomplete(ProblemError):
    """The client's connection ended before its whole body arrived (it left, or the server closed it
    for a stalled body with its own 408). What did arrive is never sent upstream as if it were the
    request; this answer reaches no one (the server drops it) but labels the request's metrics."""

    status = 408
    code = "request_body_incomplete"


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, so that an idempotent request can be sent again; 413 past the limit; 408
    (BodyIncomplete) when the connection ends first."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise BodyIncomplete("The connection ended before the whole request body arrived")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def caller_of(scope: Scope) -> Principal:
    """The bearer token's principal: 401 token_missing without one, token_invalid or token_expired."""
    token = bearer_token(scope["headers"])
    if token is None:
        raise Unauthorized("A bearer token is required", code="token_missing")
    verifier: TokenVerifier = scope["app"].state.verifier
    return verifier.verify(token)


async def proxy(scope: Scope, receive: Receive, send: Send) -> None:
    """`/api/v1/<path>` is sent to the owning service's `/v1/<path>` with its method, query, body and
    headers; its answer comes back unchanged. The token is checked here first and again by the
    service."""
    state = scope["app"].state
    path = "/v1/" + scope["path"][len(PROXY_PREFIX) :]
    route = state.route_table.match(path)
    # RequestContextMiddleware labels metrics by route template. The catch-all's template would
    # lump every service together and the raw path must never be a label, so label by the table's
    # prefix. Set before the token check, so that 401s are labelled too.
    scope["state"]["metrics_route"] = route.label if route else UNMATCHED_ROUTE
    try:
        method = scope["method"]
        caller = caller_of(scope)
        await state.rate_limiter.check(caller, method, path)
        if route is None:
            raise NotFound("No service serves this path", code="route_not_found")
        if not route.base_url:
            raise UpstreamUnavailable(
                f"The {route.service} service is not configured", code="service_not_configured", service=route.service
            )
        forwarder: Forwarder = state.forwarder
        body = await read_body(scope, receive, forwarder.settings.max_body_bytes)
        target = path if _PLAIN_PATH.fullmatch(path) else quote(path, safe=_PATH_SAFE)
        if query := scope.get("query_string"):
            target += "?" + query.decode("latin-1")
        headers = forwarded_headers(scope, current_request_id() or "")
        retryable = method in IDEMPOTENT or any(name == b"idempotency-key" for name, _ in scope["headers"])
        answer, started = await forwarder.send(
            route.service,
            route.base_url,
            method,
            target,
            headers,
            body,
            retryable=retryable,
            stream=True,
            label=route.label,
        )
    except ProblemError as err:
        response = problem_response(err.status, err.code, err.detail, err.headers, **err.extra)
        await response(scope, receive, send)
        return
    await relay(answer, route.service, route.label, forwarder.metrics, started, send)


def is_proxied(scope: Scope, *, own: Callable[[str], bool]) -> bool:
    """An /api/v1/... request for a service: not one of the gateway's own routes there (`own(path)`),
    and a method the proxy forwards (another gets the router's 405)."""
    path = scope["path"]
    return path.startswith(PROXY_PREFIX) and scope["method"] in PROXY_METHODS and not own(path)


class _ProxyApp:  # an ASGI app (not a function), so that Starlette passes it scope, receive and send
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await proxy(scope, receive, send)  # pragma: no cover - GatewayApp sends these to proxy first


PROXY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# In the router only so that another method gets 405 with Allow; GatewayApp answers the rest.
# Documented in the merged OpenAPI by each service's own paths (gateway.openapi), not as a catch-all.
proxy_route = StarletteRoute(
    "/api/v1/{path:path}", _ProxyApp(), methods=sorted(PROXY_METHODS), name="proxy", include_in_schema=False
)
