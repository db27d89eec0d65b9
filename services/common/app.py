"""The app factory every service calls: problem handlers, request context, metrics, health and the
event feed wired once, so a service's create_app only names its own parts."""

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from fastapi import APIRouter, Depends, FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import Table

from services.common.approvals import ApprovalBook, install_approval_metrics
from services.common.audit_chain import head as audit_head
from services.common.audit_chain import install_audit_metrics
from services.common.auth import TokenVerifier
from services.common.config import BaseServiceSettings, EventTransportSettings, FeedConsumerSettings, JobSettings
from services.common.connection_limits import install_connection_limits
from services.common.consumer import ConsumerThread, FeedConsumer, consumer_check
from services.common.consumer_metrics import install_consumer_metrics
from services.common.db import Database
from services.common.docs import docs_router
from services.common.errors import install_problem_handlers
from services.common.fastpath import FastPath, FastPathMiddleware
from services.common.health import database_checks, health_router, migration_heads
from services.common.jetstream import Transport
from services.common.jetstream_consumer import JetStreamRunner
from services.common.jobs import JobRunner, JobThread
from services.common.jobs_metrics import install_job_metrics
from services.common.limits import ServiceLimitsMiddleware
from services.common.logs import configure_logging
from services.common.metrics import HttpMetrics, metrics_router
from services.common.middleware import RequestContextMiddleware
from services.common.openapi_doc import install_openapi, operation_id
from services.common.relay import OutboxRelay, install_relay_metrics
from services.common.strict_query import reject_unknown_query
from services.common.text import reject_control_characters


class BackgroundWorker(Protocol):
    """What runs beside a service for its lifetime (a feed consumer's thread, a periodic job)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


def build_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: BaseServiceSettings,
    routers: Iterable[APIRouter],
    alembic_ini: Path,
    db: Database | None = None,
    version: str = "0.1.0",
    background: Sequence[BackgroundWorker] = (),
    consumers: Sequence[FeedConsumer] = (),
    jobs: JobRunner | None = None,
    fast_paths: Sequence[FastPath] = (),
    registry: CollectorRegistry | None = None,
    audit_chain: Table | None = None,
    approvals: ApprovalBook | None = None,
) -> FastAPI:
    """`background`: jobs started with the app and stopped before the database closes.
    `consumers`: feed consumers, each run in a thread like `background`, with its readiness check
    (`<feed>_feed`) and metrics (services.common.consumer_metrics); `settings` then carries
    FeedConsumerSettings.
    `jobs`: the service's scheduled jobs (services.common.jobs), run in a thread when the settings'
    `jobs_in_process` says so, and exported as metrics either way.
    `fast_paths`: hand-written answers for the hottest GET routes (see services.common.fastpath).
    `registry`: the service's own metrics registry, holding its domain metrics already; the HTTP
    metrics are added to it (a new one when None).
    `audit_chain`: the service's audit chain (services.common.audit_chain), whose head is exported.
    `approvals`: the service's dual-control book (services.common.approvals), `app.state.approvals`
    for the kit's approvals routes, its pending requests by action and age exported."""
    configure_logging(name, settings.log_level)
    db = db or Database(settings.database_url)
    if consumers and not isinstance(settings, FeedConsumerSettings):
        raise TypeError(f"{type(settings).__name__} runs feed consumers without FeedConsumerSettings")
    relays, readers = event_transport(name, settings, db, consumers)
    background = [*relays, *readers, *background]
    if jobs is not None and isinstance(settings, JobSettings) and settings.jobs_in_process:
        background = [*background, JobThread(jobs, settings.jobs_tick_seconds)]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for worker in background:
            worker.start()
        try:
            yield
        finally:
            for worker in background:
                worker.stop()
            db.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served by docs_router with local assets (no CDN)
        redoc_url=None,
        dependencies=[Depends(reject_unknown_query), Depends(reject_control_characters)],
        generate_unique_id_function=operation_id,
    )
    install_openapi(app)
    app.state.service_name = name
    app.state.settings = settings
    app.state.db = db
    app.state.verifier = TokenVerifier(settings)
    app.state.metrics = HttpMetrics(registry or CollectorRegistry(auto_describe=True))
    app.state.ready_checks = database_checks(db, migration_heads(alembic_ini))
    if isinstance(settings, FeedConsumerSettings):
        for c in consumers:
            app.state.ready_checks[f"{c.feed}_feed"] = consumer_check(
                c, settings.consumer_max_lag, settings.consumer_max_silence_seconds
            )
    install_consumer_metrics(app.state.metrics.registry, consumers)
    if isinstance(settings, EventTransportSettings):
        install_relay_metrics(app.state.metrics.registry, relays)
    install_job_metrics(app.state.metrics.registry, jobs)
    install_connection_limits(app.state.metrics.registry, settings)
    if audit_chain is not None:
        install_audit_metrics(app.state.metrics.registry, lambda: audit_head(db, audit_chain))
    if approvals is not None:
        app.state.approvals = approvals
        install_approval_metrics(
            app.state.metrics.registry, lambda: approvals.pending_by_age(db, now=app.state.clock())
        )
    app.state.jobs = jobs
    app.state.relays = relays
    app.state.event_workers = [*relays, *readers]
    app.state.consumers = {c.feed: c for c in consumers}
    install_problem_handlers(app)
    app.state.fast_paths = tuple(fast_paths)
    if fast_paths:  # added first, so it runs inside the request context (request id, metrics)
        app.add_middleware(FastPathMiddleware, paths=fast_paths)
    app.add_middleware(
        ServiceLimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        request_timeout_seconds=settings.request_timeout_seconds,
    )
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.include_router(health_router())
    app.include_router(metrics_router)
    app.include_router(docs_router("/docs", "/openapi.json", title))
    for router in routers:
        app.include_router(router)
    return app


def event_transport(
    name: str, settings: BaseServiceSettings, db: Database, consumers: Sequence[FeedConsumer]
) -> tuple[list[OutboxRelay], list[BackgroundWorker]]:
    """The outbox relay (with a broker and the relay on) and what reads each consumer's feed: its
    owner's JetStream stream when the consumer's feed is among `jetstream_feeds`, else the HTTP feed."""
    on_jetstream: set[str] = set()
    relays: list[OutboxRelay] = []
    transport = None
    if isinstance(settings, EventTransportSettings) and settings.nats_url:
        transport = Transport.from_settings(settings)
        on_jetstream = settings.jetstream_feed_names()
        unknown = on_jetstream - {c.feed for c in consumers}
        if unknown:
            raise ValueError(f"{name} consumes no feed named {', '.join(sorted(unknown))} (jetstream_feeds)")
        if settings.nats_relay:
            relays.append(OutboxRelay(service=name, db=db, transport=transport))
    readers: list[BackgroundWorker] = []
    for c in consumers:
        if transport is not None and c.feed in on_jetstream:
            readers.append(JetStreamRunner(c, transport))
        elif isinstance(settings, FeedConsumerSettings):
            readers.append(ConsumerThread(c, settings.feed_idle_seconds))
    return relays, readers
