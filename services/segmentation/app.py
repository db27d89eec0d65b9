"""Wires the segmentation service: settings, database, clock, feed consumers, recompute runner, routers."""

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.common.app import build_service_app
from services.common.approvals import ApprovalBook
from services.common.branch_scope import BranchScope
from services.common.consumer import FeedConsumer, system_token_source
from services.common.db import Database, utcnow
from services.common.outbox import feed_router
from services.common.pii import PersonalDataVault
from services.segmentation.api import routers
from services.segmentation.config import SegmentationSettings
from services.segmentation.consumers import FeatureHandlers
from services.segmentation.metrics import SegmentationMetrics
from services.segmentation.models import approval, audit_chain, branch, consumer_cursor, outbox
from services.segmentation.service import context, products, recomputes
from services.segmentation.service.branch_scope import customer_branch
from services.segmentation.service.jobs import build_jobs
from services.segmentation.service.quarantine import OnQuarantine

HERE = Path(__file__).parent
FEEDS = ("profile", "loyalty", "feedback")


def build_consumers(
    settings: SegmentationSettings,
    db: Database,
    clock: Callable[[], datetime],
    client: httpx.Client | None = None,
    on_quarantine: OnQuarantine | None = None,
) -> dict[str, FeedConsumer]:
    """One FeedConsumer per feed whose URL setting is non-empty, each with its own cursor row."""
    features = FeatureHandlers(settings, clock, on_quarantine)
    client = client or httpx.Client(timeout=10.0)

    return {
        feed: FeedConsumer(
            name=feed,
            db=db,
            cursor_table=consumer_cursor,
            handlers=features.handlers(feed),
            client=client,
            feed_url=getattr(settings, f"{feed}_feed_url"),
            token=system_token_source(settings, "segmentation-consumer"),
            batch_size=settings.feed_batch_size,
            set_aside=features.set_aside(feed),
            wait_seconds=settings.feed_wait_seconds,
        )
        for feed in FEEDS
        if getattr(settings, f"{feed}_feed_url")
    }


def build_approvals(settings: SegmentationSettings) -> ApprovalBook:
    """Dual control in segmentation: retiring a product (a setting)."""
    return ApprovalBook(
        table=approval,
        outbox=outbox,
        audit_chain=audit_chain,
        branches=branch,
        vault=PersonalDataVault(settings.pii_keys, ""),
        executors={products.RETIRE: products.retire_approved},
        ttls={products.RETIRE: timedelta(hours=settings.approval_ttl_hours)},
        enabled=frozenset({products.RETIRE} if settings.dual_control_product_retire else ()),
    )


def create_app(
    settings: SegmentationSettings | None = None,
    db: Database | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    settings = settings or SegmentationSettings()
    db = db or Database(settings.database_url)
    clock = clock or utcnow
    registry = CollectorRegistry(auto_describe=True)
    metrics = SegmentationMetrics(registry)
    consumers = build_consumers(settings, db, clock, on_quarantine=metrics.event_quarantined)
    ctx = context.Context(
        db=db, settings=settings, clock=clock, on_recompute=metrics.recompute_finished, on_step=metrics.recompute_step
    )
    book = build_approvals(settings)
    app = build_service_app(
        name="segmentation",
        title="Segmentation service",
        description="Customer features, classification schemes, rule segments, recomputes, products and "
        "recommendations; the segment.changed event feed.",
        settings=settings,
        routers=[*routers, feed_router(outbox)],
        alembic_ini=HERE / "alembic.ini",
        db=db,
        consumers=list(consumers.values()),
        jobs=build_jobs(ctx, book),
        registry=registry,
        audit_chain=audit_chain,
        approvals=book,
    )
    app.state.ctx = ctx
    app.state.clock = clock  # the kit's Now (services.common.deps)

    def run_job(job_id: str) -> None:
        if settings.recompute_inline:
            recomputes.run_recompute(ctx, job_id=job_id)
            return
        threading.Thread(
            target=recomputes.run_recompute,
            args=(ctx,),
            kwargs={"job_id": job_id},
            name=f"recompute-{job_id}",
            daemon=True,
        ).start()

    app.state.job_runner = run_job
    app.state.branch_scope = BranchScope(app.state.db, branch, customer_branch=customer_branch)
    return app
