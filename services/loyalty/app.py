"""Wires the loyalty service: settings, database, clock, domain metrics, feed consumers, segmentation's
class catalogue, routers."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.common.app import build_service_app
from services.common.approvals import ApprovalBook
from services.common.consumer import system_token_source
from services.common.db import Database, utcnow
from services.common.outbox import feed_router
from services.loyalty.api import routers
from services.loyalty.config import LoyaltySettings
from services.loyalty.consumers import build_consumer
from services.loyalty.metrics import LoyaltyMetrics
from services.loyalty.models import approval, audit_chain, outbox
from services.loyalty.service import adjustments, rewards
from services.loyalty.service.adjustments import ACTION as ADJUST
from services.loyalty.service.classes import ClassCatalogue, segmentation_unavailable
from services.loyalty.service.jobs import build_jobs
from services.loyalty.service.ledger import commit
from services.loyalty.service.policy import Policy
from services.loyalty.service.rewards import RETIRE

HERE = Path(__file__).parent
log = logging.getLogger("loyalty.classes")


def build_policy(settings: LoyaltySettings, clock: Callable[[], datetime] = utcnow, sink=None) -> Policy:
    kw = {"sink": sink} if sink is not None else {}
    return Policy(
        zone=settings.zone,
        expiry_months=settings.expiry_months,
        staff_adjust_limit=settings.staff_adjust_limit,
        adjust_daily_cap=settings.adjust_daily_cap,
        tiers=tuple(settings.tiers),
        clock=clock,
        **kw,
    )


def _why(err: Exception) -> str:
    if isinstance(err, httpx.TimeoutException):
        return "timeout"
    if isinstance(err, httpx.HTTPStatusError):
        return f"answered {err.response.status_code}"
    if isinstance(err, httpx.TransportError):
        return "unreachable"
    return "unreadable answer"


class SegmentationCatalogue:
    """Reads segmentation's class catalogue (GET /v1/segments/classes: every class id) with a system
    token like loyalty's feed consumers' but scoped `segments:read`, within
    LOYALTY_SEGMENTATION_TIMEOUT_SECONDS; any failure is a 503 naming segmentation. The HTTP client and
    the token source are made on first use."""

    def __init__(self, settings: LoyaltySettings, client: httpx.Client | None = None):
        self.settings = settings
        self.url = f"{settings.segmentation_url.rstrip('/')}/v1/segments/classes"
        self._client = client
        self._token: Callable[[], str] | None = None

    def __call__(self) -> frozenset[str]:
        if self._token is None:
            try:
                self._token = system_token_source(self.settings, "loyalty-consumer", scope="segments:read")
            except ValueError:
                raise segmentation_unavailable("no system token: LOYALTY_CONSUMER_SIGNING_KEY is empty") from None
        try:
            if self._client is None:
                self._client = httpx.Client(timeout=self.settings.segmentation_timeout_seconds)
            resp = self._client.get(self.url, headers={"Authorization": f"Bearer {self._token()}"})
            resp.raise_for_status()
            return frozenset(str(item["id"]) for item in resp.json()["items"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
            why = _why(err)
            log.warning("segmentation's class catalogue not read", extra={"fields": {"url": self.url, "reason": why}})
            raise segmentation_unavailable(why) from None


def build_approvals(settings: LoyaltySettings, policy: Policy) -> ApprovalBook:
    """Dual control in loyalty: adjustments beyond the limits (always), retiring a reward (a setting)."""
    ttl = timedelta(hours=settings.approval_ttl_hours)
    return ApprovalBook(
        table=approval,
        outbox=outbox,
        audit_chain=audit_chain,
        executors={ADJUST: adjustments.executor(policy), RETIRE: rewards.retirement_executor(policy)},
        ttls={ADJUST: ttl, RETIRE: ttl},
        enabled=frozenset({ADJUST} | ({RETIRE} if settings.dual_control_reward_retire else set())),
        commit=lambda s: commit(s, policy),
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
    book = build_approvals(settings, policy)
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
        jobs=build_jobs(settings, db, policy, clock, book, metrics.ledger_mismatches.set),
        registry=registry,
        audit_chain=audit_chain,
        approvals=book,
    )
    app.state.policy = policy
    app.state.clock = clock  # the kit's Now (services.common.deps)
    app.state.classes = ClassCatalogue(SegmentationCatalogue(settings) if settings.segmentation_url else None)
    app.state.loyalty_metrics = metrics
    return app
