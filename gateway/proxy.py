"""The /api/v1 catch-all: checks the token at the edge, finds the owning service in the route table,
forwards the request over the pooled client and streams the answer back."""

import contextlib
import logging
import time
from typing import Annotated
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.config import GatewaySettings
from gateway.headers import forwarded_headers, relayed_headers
from gateway.metrics import UpstreamMetrics
from gateway.routes import Route
from gateway.upstream import UPSTREAM_ERRORS, failure_kind, upstream_timeout
from services.common.auth import Principal, current_principal
from services.common.context import current_request_id
from services.common.errors import NotFound, UpstreamTimeout, UpstreamUnavailable, problem_responses
from services.common.metrics import UNMATCHED_ROUTE

log = logging.getLogger("gateway.proxy")

# Safe to send twice: RFC 9110 idempotent methods. POST and PATCH are never retried.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
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
    """Sends requests upstream over the one pooled client; lives from startup to shutdown."""

    def __init__(self, client: httpx.AsyncClient, metrics: UpstreamMetrics, settings: GatewaySettings):
        self.client = client
        self.metrics = metrics
        self.settings = settings
        self.timeout = upstream_timeout(settings).as_dict()

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

    async def forward(self, request: Request, route: Route, path: str) -> RelayedResponse:
        """Raises UpstreamUnavailable (503) or UpstreamTimeout (504) when no answer arrives."""
        upstream_request = self.build(request, route, path, await self.read_body(request))
        started = time.perf_counter()
        attempts = 2 if request.method in IDEMPOTENT else 1
        for attempt in range(1, attempts + 1):
            try:
                upstream = await self.client.send(upstream_request, stream=True)
                return RelayedResponse(upstream, route, self.metrics, started)
            except UPSTREAM_ERRORS as err:
                kind = failure_kind(err)
                # Once, and only for a connection-level failure: a timeout may mean the upstream is
                # still working on the first attempt.
                if kind == "refused" and attempt < attempts:
                    self.metrics.retries.labels(route.service).inc()
                    continue
                self.metrics.failed(route.service, kind, time.perf_counter() - started)
                log.warning(
                    "upstream failed",
                    extra={
                        "fields": {
                            "upstream": route.service,
                            "route": route.label,
                            "method": request.method,
                            "kind": kind,
                            "error": type(err.__cause__ or err).__name__,
                        }
                    },
                )
                raise upstream_problem(route.service, kind) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def matched_route(request: Request) -> Route | None:
    route = request.app.state.route_table.match(upstream_path(request))
    # RequestContextMiddleware labels metrics by route template. The catch-all's template would
    # lump every service together and the raw path must never be a label, so label by the table's
    # prefix. Resolved before the token check, so that 401s are labelled too.
    request.state.metrics_route = route.label if route else UNMATCHED_ROUTE
    return route


def upstream_path(request: Request) -> str:
    return "/v1/" + request.path_params["path"]


async def proxy(
    request: Request,
    route: Annotated[Route | None, Depends(matched_route)],
    _caller: Annotated[Principal, Depends(current_principal)],
) -> Response:
    if route is None:
        raise NotFound("No service serves this path", code="route_not_found")
    if not route.base_url:
        raise UpstreamUnavailable(
            f"The {route.service} service is not configured", code="service_not_configured", service=route.service
        )
    return await request.app.state.forwarder.forward(request, route, upstream_path(request))


router = APIRouter(tags=["proxy"])
_DOCUMENTED = ("GET", "POST", "PUT", "PATCH", "DELETE")
for _method in (*_DOCUMENTED, "HEAD", "OPTIONS"):
    router.add_api_route(
        "/api/v1/{path:path}",
        proxy,
        methods=[_method],
        name=f"proxy_{_method.lower()}",
        include_in_schema=_method in _DOCUMENTED,
        summary="Forward to the service that owns the path",
        description="`/api/v1/<path>` is sent to the owning service's `/v1/<path>` with its method, query, "
        "body and headers; its answer comes back unchanged. The token is checked here first "
        "and again by the service. Each service documents its own paths.",
        response_description="The owning service's answer, relayed unchanged",
        responses=problem_responses(401, 404, 413, 503, 504),
    )
