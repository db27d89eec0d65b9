"""Wires the loyalty service: settings, database, clock, domain metrics, feed consumers, routers."""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.common.app import build_service_app
from services.common.db import Database, utcnow
from services.common.outbox import feed_router
from services.loyalty.api import routers
from services.loyalty.config import LoyaltySettings
from services.loyalty.consumers import build_consumer
from services.loyalty.metrics import LoyaltyMetrics
from services.loyalty.models import outbox
from services.loyalty.service.jobs import build_jobs
from services.loyalty.service.policy import Policy

HERE = Path(__file__).parent


def build_policy(settings: LoyaltySettings, clock: Callable[[], datetime] = utcnow, sink=None) -> Policy:
    kw = {"sink": sink} if sink is not None else {}
    return Policy(
        zone=settings.zone,
        expiry_months=settings.expiry_months,
        staff_adjust_limit=settings.staff_adjust_limit,
        tiers=tuple(settings.tiers),
        clock=clock,
        **kw,
    )


def create_app(
    settings: LoyaltySettings | None = None, db: Database | None = None, clock: Callable[[], datetime] = utcnow
) -> FastAPI:
    """`clock` is injected by tests (expiry, cancellation windows, check-in days)."""
    settings = settings or LoyaltySettings()
    db = db or Database(settings.database_url)
    feeds = {
        "profile": settings.profile_feed_url,
        "segmentation": settings.segmentation_feed_url,
        "feedback": settings.feedback_feed_url,
    }
    registry = CollectorRegistry(auto_describe=True)
    metrics = LoyaltyMetrics(registry)
    policy = build_policy(settings, clock, sink=metrics.record)
    consumers = {
        feed: build_consumer(feed, db=db, policy=policy, settings=settings, url=url)
        for feed, url in feeds.items()
        if url
    }
    app = build_service_app(
        name="loyalty",
        title="Loyalty service",
        description="Points accounts and ledger, earning rules, rewards and redemptions, customer events; "
        "the points event feed.",
        settings=settings,
        routers=[*routers, feed_router(outbox)],
        alembic_ini=HERE / "alembic.ini",
        db=db,
        consumers=list(consumers.values()),
        jobs=build_jobs(settings, db, policy, clock, metrics.ledger_mismatches.set),
        registry=registry,
    )
    app.state.policy = policy
    app.state.loyalty_metrics = metrics
    return app
