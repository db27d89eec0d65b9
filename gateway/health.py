"""/health aggregates every configured service's readiness; /health/live and /health/ready are the
gateway's own."""

import asyncio
import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.h1pool import UpstreamError
from gateway.upstream import UpstreamClient
from services.common.context import current_request_id

Overall = Literal["ok", "degraded", "down"]


class ServiceHealth(BaseModel):
    status: Literal["ok", "down"]
    latency_ms: float
    detail: str  # ready, not ready (503), timeout, unreachable
    # The gateway's circuit breaker for the service: open means requests are answered 503 at once.
    circuit: Literal["closed", "half-open", "open"] = "closed"


class SuiteHealth(BaseModel):
    status: Overall
    services: dict[str, ServiceHealth]


class GatewayHealth(BaseModel):
    status: Literal["ok"]


def overall_status(services: dict[str, ServiceHealth], critical: frozenset[str]) -> Overall:
    """ok when every configured service is ready; down when none is, or when a critical one (profile,
    the system of record) is not; degraded otherwise. No configured service at all is down."""
    down = {name for name, health in services.items() if health.status == "down"}
    if not services or down == set(services) or down & critical:
        return "down"
    return "degraded" if down else "ok"


async def probe(client: UpstreamClient, base_url: str, timeout: float) -> ServiceHealth:
    started = time.perf_counter()
    status: Literal["ok", "down"]
    headers = [(b"x-request-id", (current_request_id() or "").encode("latin-1"))]
    try:
        async with asyncio.timeout(timeout):  # the whole check, whichever phase it is in
            answer = await client.get(base_url, "/health/ready", headers)
        status, detail = ("ok", "ready") if answer.status_code == 200 else ("down", f"not ready ({answer.status_code})")
    except TimeoutError:
        status, detail = "down", "timeout"
    except UpstreamError as err:
        status, detail = "down", "timeout" if err.kind == "timeout" else "unreachable"
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return ServiceHealth(status=status, latency_ms=latency_ms, detail=detail)


router = APIRouter(prefix="/health", tags=["health"])


@router.get(
    "",
    response_model=SuiteHealth,
    summary="Every configured service's readiness",
    responses={503: {"model": SuiteHealth, "description": "The suite is down"}},
)
async def suite_health(request: Request) -> JSONResponse:
    """Checks every configured service's /health/ready at once, each bounded by
    GATEWAY_HEALTH_TIMEOUT_SECONDS. 200 while the suite can serve (ok or degraded), 503 when it is
    down: every service down, or a critical one (GATEWAY_CRITICAL_SERVICES, profile by default).
    Orchestrators should probe /health/live, so the gateway keeps answering problem documents
    while services are away."""
    settings = request.app.state.settings
    services = settings.configured_services()
    client = request.app.state.upstream_client
    results = await asyncio.gather(*(probe(client, url, settings.health_timeout_seconds) for url in services.values()))
    breakers = request.app.state.forwarder.breakers
    report = {
        name: health.model_copy(update={"circuit": breakers[name].state.label})
        for name, health in zip(services, results, strict=True)
    }
    body = SuiteHealth(status=overall_status(report, settings.critical_service_set), services=report)
    return JSONResponse(body.model_dump(), status_code=503 if body.status == "down" else 200)


@router.get("/live", response_model=GatewayHealth, summary="The gateway process answers")
async def live() -> GatewayHealth:
    return GatewayHealth(status="ok")


@router.get("/ready", response_model=GatewayHealth, summary="The gateway can forward requests")
async def ready() -> GatewayHealth:
    # Deliberately independent of the services: they come and go, and clients are better served by
    # the gateway's 503 problem documents than by no gateway at all.
    return GatewayHealth(status="ok")
