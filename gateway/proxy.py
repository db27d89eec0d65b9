"""The /api/v1 catch-all: checks the token at the edge, finds the owning service in the route table,
forwards the request over the pooled client and streams the answer back."""

import contextlib
import logging
import time
from functools import partial
from urllib.parse import quote

import httpx
from fastapi import HTTPException, Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.types import Receive, Scope, Send

from gateway.config import SERVICES, GatewaySettings
from gateway.headers import forwarded_headers, relayed_headers
from gateway.metrics import UpstreamMetrics
from gateway.resilience import CircuitBreaker, CircuitState, RetryBudget
from gateway.routes import Route
from gateway.upstream import UPSTREAM_ERRORS, failure_kind, transport_of, upstream_timeout
from services.common.auth import Principal
from services.common.context import current_request_id
from services.common.errors import NotFound, Unauthorized, UpstreamTimeout, UpstreamUnavailable
from services.common.metrics import UNMATCHED_ROUTE

log = logging.getLogger("gateway.proxy")

# Safe to send twice: RFC 9110 idempotent methods, and any request carrying an Idempotency-Key (the
# service answers a repeat with the first response). POST and PATCH without one are never retried.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Answers that say the upstream itself is in trouble (a 500 is one request's bug, not the service's).
BREAKER_STATUSES = frozenset({502, 503, 504})
_PATH_SAFE = "/:@!$&'()*+,;=~"


def upstream_problem(service: str, kind: str) -> UpstreamTimeout | UpstreamUnavailable:
    if kind == "timeout":
        return UpstreamTimeout(f"The {service} service did not answer in time", service=service)
    return UpstreamUnavailable(f"The {service} service is unavailable", service=service)


class RelayedResponse(Response):
    """An upstream answer streamed through as it arrives. The upstream response is always closed,
    which hands its connection back to the pool, and its metrics are recorded once the body is out."""

    def __init__(self, upstream: httpx.Response, route: Route, metrics: UpstreamMetrics, started: float):
        self.upstream = upstream
        self.route = route
        self.metrics = metrics
        self.started = started
        self.status_code = upstream.status_code
        self.raw_headers = relayed_headers(upstream.headers.raw)
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        interrupted = None
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async for chunk in self.upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except UPSTREAM_ERRORS as err:
            interrupted = failure_kind(err)
            log.warning(
                "upstream body interrupted",
                extra={"fields": {"upstream": self.route.service, "route": self.route.label, "kind": interrupted}},
            )
            # Too late for a problem document: the status is out. Ending without the final body
            # message makes the server close the connection, so the client sees a truncated body,
            # never a short one that looks whole.
            return
        finally:
            with contextlib.suppress(*UPSTREAM_ERRORS):
                await self.upstream.aclose()
            self.metrics.answered(self.route.service, self.status_code, time.perf_counter() - self.started)
            if interrupted:
                self.metrics.interrupted(self.route.service, interrupted)
        if self.background is not None:
            await self.background()


class Forwarder:
    """Sends requests upstream over the one pooled client, through each service's circuit breaker and
    retry budget; lives from startup to shutdown."""

    def __init__(self, client: httpx.AsyncClient, metrics: UpstreamMetrics, settings: GatewaySettings):
        self.client = client
        # Straight to the transport: the client's layers (auth, redirects, cookie extraction, event
        # hooks) do nothing for a proxy that forwards as it is told, and cost about a tenth of its CPU.
        self.transport = transport_of(client)
        self.metrics = metrics
        self.settings = settings
        self.timeout = upstream_timeout(settings).as_dict()
        self.breakers = {
            service: CircuitBreaker(settings.breaker_failure_threshold, settings.breaker_reset_seconds,
                                    on_change=partial(self._circuit_changed, service))
            for service in SERVICES
        }
        self.budgets = {service: RetryBudget(settings.retry_budget_ratio, settings.retry_budget_reserve)
                        for service in SERVICES}

    def _circuit_changed(self, service: str, state: CircuitState) -> None:
        self.metrics.circuit_state.labels(service).set(int(state))
        log.warning("circuit changed", extra={"fields": {"upstream": service, "circuit": state.label}})

    async def read_body(self, request: Request) -> bytes:
        """The whole body, so that an idempotent request can be sent again; 413 past the limit."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"The request body exceeds {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"The request body exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def build(self, request: Request, route: Route, path: str, body: bytes) -> httpx.Request:
        url = httpx.URL(route.base_url + quote(path, safe=_PATH_SAFE))
        if query := request.scope.get("query_string"):
            url = url.copy_with(query=query)
        return httpx.Request(
            request.method,
            url,
            content=body or None,
            headers=forwarded_headers(request.scope, current_request_id() or ""),
            extensions={"timeout": self.timeout},
        )

    async def send(self, service: str, request: httpx.Request, *, retryable: bool, stream: bool,
                   label: str) -> tuple[httpx.Response, float]:
        """The upstream's response and when sending began. Raises UpstreamUnavailable (503: unreachable,
        or `circuit_open` with Retry-After) or UpstreamTimeout (504). A connection-level failure is
        retried once when `retryable` and the service's retry budget allows; a timeout never is (the
        upstream may still be working on the first attempt). Non-streamed answers are counted here."""
        breaker = self.breakers[service]
        if not breaker.allow():
            self.metrics.circuit_rejections.labels(service).inc()
            raise UpstreamUnavailable(
                f"The {service} service is failing; the gateway is not sending it requests for now",
                code="circuit_open", service=service, headers={"Retry-After": str(breaker.retry_after())})
        budget = self.budgets[service]
        budget.deposit()
        started = time.perf_counter()
        judged = False
        try:
            for attempt in (1, 2):
                try:
                    response = await self.transport.handle_async_request(request)
                    if not stream:
                        await response.aread()
                except UPSTREAM_ERRORS as err:
                    kind = failure_kind(err)
                    if kind == "refused" and attempt == 1 and retryable:
                        if budget.withdraw():
                            self.metrics.retries.labels(service).inc()
                            continue
                        self.metrics.retries_refused.labels(service).inc()
                    breaker.failure()
                    judged = True
                    self.metrics.failed(service, kind, time.perf_counter() - started)
                    log.warning("upstream failed", extra={"fields": {
                        "upstream": service, "route": label, "method": request.method, "kind": kind,
                        "error": type(err.__cause__ or err).__name__}})
                    raise upstream_problem(service, kind) from None
                if response.status_code in BREAKER_STATUSES:
                    breaker.failure()
                else:
                    breaker.success()
                judged = True
                if not stream:
                    self.metrics.answered(service, response.status_code, time.perf_counter() - started)
                return response, started
            raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
        finally:
            if not judged:  # cancelled (caller gone, request timeout): no verdict on the upstream
                breaker.release()

    async def forward(self, request: Request, route: Route, path: str) -> RelayedResponse:
        """Raises UpstreamUnavailable (503) or UpstreamTimeout (504) when no answer arrives."""
        upstream_request = self.build(request, route, path, await self.read_body(request))
        retryable = request.method in IDEMPOTENT or "idempotency-key" in request.headers
        upstream, started = await self.send(route.service, upstream_request, retryable=retryable, stream=True,
                                            label=route.label)
        return RelayedResponse(upstream, route, self.metrics, started)


def upstream_path(request: Request) -> str:
    return "/v1/" + request.path_params["path"]


def caller_of(request: Request) -> Principal:
    """The bearer token's principal: 401 token_missing without one, token_invalid or token_expired."""
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required", code="token_missing")
    return request.app.state.verifier.verify(token.strip())


async def proxy(request: Request) -> Response:
    """`/api/v1/<path>` is sent to the owning service's `/v1/<path>` with its method, query, body and
    headers; its answer comes back unchanged. The token is checked here first and again by the
    service. A plain Starlette route, not a FastAPI one: it needs no parameter parsing or dependency
    solving, which were a sixth of the gateway's CPU per proxied request."""
    path = upstream_path(request)
    route = request.app.state.route_table.match(path)
    # RequestContextMiddleware labels metrics by route template. The catch-all's template would
    # lump every service together and the raw path must never be a label, so label by the table's
    # prefix. Set before the token check, so that 401s are labelled too.
    request.state.metrics_route = route.label if route else UNMATCHED_ROUTE
    caller = caller_of(request)
    await request.app.state.rate_limiter.check(caller, request.method, path)
    if route is None:
        raise NotFound("No service serves this path", code="route_not_found")
    if not route.base_url:
        raise UpstreamUnavailable(
            f"The {route.service} service is not configured", code="service_not_configured", service=route.service
        )
    return await request.app.state.forwarder.forward(request, route, path)


PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Documented in the merged OpenAPI by each service's own paths (gateway.openapi), not as a catch-all.
proxy_route = StarletteRoute("/api/v1/{path:path}", proxy, methods=PROXY_METHODS, name="proxy",
                             include_in_schema=False)
