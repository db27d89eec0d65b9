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
from services.common.branch_scope import BranchScope
from services.common.consumer import system_token_source
from services.common.db import Database, utcnow
from services.common.outbox import feed_router
from services.common.pii import PersonalDataVault
from services.loyalty.api import routers
from services.loyalty.config import LoyaltySettings
from services.loyalty.consumers import build_consumer
from services.loyalty.metrics import LoyaltyMetrics, install_outreach_metrics
from services.loyalty.models import approval, audit_chain, branch, outbox
from services.loyalty.service import adjustments, rewards
from services.loyalty.service.adjustments import ACTION as ADJUST
from services.loyalty.service.branch_scope import customer_branch
from services.loyalty.service.campaigns import LAUNCH, launch_executor
from services.loyalty.service.classes import ClassCatalogue, segmentation_unavailable
from services.loyalty.service.delivery.addresses import ProfileAddresses
from services.loyalty.service.delivery.channel import PhoneTasks, Sender
from services.loyalty.service.delivery.email import EmailSender
from services.loyalty.service.delivery.push import PushPublisher
from services.loyalty.service.delivery.sms import SmsSender
from services.loyalty.service.delivery.worker import DeliveryRules, DeliveryThread, DeliveryWorker
from services.loyalty.service.jobs import build_jobs
from services.loyalty.service.ledger import commit
from services.loyalty.service.outreach import counts_by_state
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
        vault=PersonalDataVault(settings.pii_keys, ""),
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
    """Dual control in loyalty: adjustments beyond the limits (always), retiring a reward (a setting),
    launching a campaign (always)."""
    ttl = timedelta(hours=settings.approval_ttl_hours)
    return ApprovalBook(
        table=approval,
        outbox=outbox,
        audit_chain=audit_chain,
        branches=branch,
        vault=policy.vault,
        executors={
            ADJUST: adjustments.executor(policy),
            RETIRE: rewards.retirement_executor(policy),
            LAUNCH: launch_executor(settings.marketing_cap, settings.marketing_cap_days),
        },
        ttls={ADJUST: ttl, RETIRE: ttl, LAUNCH: ttl},
        enabled=frozenset({ADJUST, LAUNCH} | ({RETIRE} if settings.dual_control_reward_retire else set())),
        commit=lambda s: commit(s, policy),
    )


def build_senders(settings: LoyaltySettings) -> list[Sender]:
    """A sender per configured channel (app push and phone tasks always; email and SMS when their
    server is named); a channel without one keeps its outreach queued until it has."""
    senders: list[Sender] = [
        PushPublisher(
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_topic_prefix,
            settings.mqtt_username,
            settings.mqtt_password,
        ),
        PhoneTasks(),
    ]
    if settings.smtp_host or settings.sms_gateway_url:
        addresses = ProfileAddresses(
            settings.profile_url,
            system_token_source(settings, "loyalty-consumer", scope="contacts:deliver"),
            settings.sms_timeout_seconds,
        )
        if settings.smtp_host:
            senders.append(
                EmailSender(
                    settings.smtp_host,
                    settings.smtp_port,
                    settings.smtp_sender,
                    addresses,
                    settings.smtp_timeout_seconds,
                )
            )
        if settings.sms_gateway_url:
            senders.append(
                SmsSender(settings.sms_gateway_url, settings.sms_gateway_token, addresses, settings.sms_timeout_seconds)
            )
    return senders


def build_delivery(
    settings: LoyaltySettings, db: Database, policy: Policy, clock: Callable[[], datetime], metrics: LoyaltyMetrics
) -> DeliveryWorker:
    rules = DeliveryRules(
        zone=settings.zone,
        batch=settings.delivery_batch,
        max_attempts=settings.delivery_max_attempts,
        backoff_seconds=settings.delivery_backoff_seconds,
        claim_seconds=settings.delivery_claim_seconds,
        tier_for=policy.tier_for,
    )
    return DeliveryWorker(db, build_senders(settings), rules, clock, metrics.record_delivery)


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
    delivery = build_delivery(settings, db, policy, clock, metrics)
    background = [DeliveryThread(delivery, settings.delivery_interval_seconds)] if settings.delivery_in_process else []
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
        background=background,
        jobs=build_jobs(settings, db, policy, clock, book, metrics.ledger_mismatches.set),
        registry=registry,
        audit_chain=audit_chain,
        approvals=book,
    )
    app.state.policy = policy
    app.state.clock = clock  # the kit's Now (services.common.deps)
    app.state.classes = ClassCatalogue(SegmentationCatalogue(settings) if settings.segmentation_url else None)
    app.state.loyalty_metrics = metrics
    app.state.branch_scope = BranchScope(app.state.db, branch, customer_branch=customer_branch)
    app.state.delivery = delivery
    install_outreach_metrics(registry, lambda: counts_by_state(db))
    return app
