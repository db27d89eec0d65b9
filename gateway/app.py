"""Wires the gateway: settings, route table, the pooled upstream client (opened and closed by the
lifespan), token verification, metrics, health and the proxy."""

from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from gateway import health, proxy
from gateway.config import GatewaySettings
from gateway.metrics import UpstreamMetrics
from gateway.routes import RouteTable
from gateway.upstream import build_client
from services.common.auth import TokenVerifier
from services.common.errors import install_problem_handlers
from services.common.logs import configure_logging
from services.common.metrics import HttpMetrics, metrics_router
from services.common.middleware import RequestContextMiddleware

DESCRIPTION = """One entry point to the Postal Savings Customer Management Suite.

`/api/v1/...` goes to the service that owns the path's prefix, as its `/v1/...`. Every request needs
`Authorization: Bearer <JWT>`. Errors are `application/problem+json`; 503 `upstream_unavailable` or
`service_not_configured` and 504 `upstream_timeout` name the service. Each service documents its own
paths.

| prefix | service |
| --- | --- |
"""


def describe(table: RouteTable) -> str:
    # From the table itself, so the docs follow GATEWAY_ROUTES.
    rows = sorted((route.label, route.service) for route in table.routes)
    return DESCRIPTION + "\n".join(f"| `{label}` | {service} |" for label, service in rows)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        client = build_client(settings)
        app.state.upstream_client = client
        app.state.forwarder = proxy.Forwarder(client, app.state.upstream_metrics, settings)
        try:
            yield
        finally:
            await client.aclose()

    table = RouteTable.from_settings(settings)
    app = FastAPI(
        title="Gateway",
        description=describe(table),
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
    )
    app.state.service_name = "gateway"
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    app.state.route_table = table
    app.state.metrics = HttpMetrics(CollectorRegistry(auto_describe=True))
    app.state.upstream_metrics = UpstreamMetrics(app.state.metrics.registry, sorted(set(settings.routes.values())))
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.include_router(health.router)
    app.include_router(metrics_router)
    app.include_router(proxy.router)
    return app
