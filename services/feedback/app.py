"""Wires the feedback service: settings, database, clock, personal-data vault, routers, metrics and the
profile and segmentation feed consumers."""

from collections.abc import Callable
from dataclasses import replace
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
from services.feedback.api import routers
from services.feedback.config import FeedbackSettings
from services.feedback.consumers import profile_handlers, segmentation_handlers
from services.feedback.metrics import install_domain_metrics
from services.feedback.models import approval, audit_chain, branch, consumer_cursor, outbox
from services.feedback.service.branch_scope import customer_branch
from services.feedback.service.complaint_steps import EXTEND, extension_executor
from services.feedback.service.complaints import ComplaintContext
from services.feedback.service.deadlines import DeadlineRules
from services.feedback.service.escalations import count_deadlines
from services.feedback.service.improvements import count_active
from services.feedback.service.jobs import build_jobs
from services.feedback.service.surveys import SurveyContext

HERE = Path(__file__).parent


def rules_from(settings: FeedbackSettings) -> DeadlineRules:
    return DeadlineRules(
        base_days=settings.complaint_days,
        extended_days=settings.complaint_extended_days,
        max_days=settings.complaint_max_days,
        at_risk_share=settings.complaint_at_risk_share,
        review_request_days=settings.review_request_days,
        review_decision_days=settings.review_decision_days,
        holidays=settings.holiday_dates,
    )


def _consumers(settings: FeedbackSettings, db: Database) -> list[FeedConsumer]:
    feeds = [
        ("profile", settings.profile_feed_url, profile_handlers()),
        ("segmentation", settings.segmentation_feed_url, segmentation_handlers()),
    ]
    return [
        FeedConsumer(
            name=name,
            db=db,
            cursor_table=consumer_cursor,
            handlers=handlers,
            client=httpx.Client(timeout=10),
            feed_url=url,
            token=system_token_source(settings, "feedback-consumer"),
            batch_size=settings.feed_batch_size,
            wait_seconds=settings.feed_wait_seconds,
        )
        for name, url, handlers in feeds
        if url
    ]


def build_complaints(
    settings: FeedbackSettings, clock: Callable[[], datetime]
) -> tuple[ComplaintContext, ApprovalBook]:
    """The complaints' context and the dual control of the second extension (a setting)."""
    complaints = ComplaintContext(
        rules=rules_from(settings),
        vault=PersonalDataVault(settings.pii_keys, ""),
        clock=clock,
        handling_survey_id=settings.handling_survey_id,
        reveal_roles=settings.reveal_role_set,
    )
    book = ApprovalBook(
        table=approval,
        outbox=outbox,
        audit_chain=audit_chain,
        branches=branch,
        vault=complaints.vault,
        executors={EXTEND: extension_executor(complaints)},
        ttls={EXTEND: timedelta(hours=settings.approval_ttl_hours)},
        enabled=frozenset({EXTEND} if settings.dual_control_second_extension else ()),
    )
    return (replace(complaints, approvals=book) if book.controls(EXTEND) else complaints), book


def create_app(
    settings: FeedbackSettings | None = None, db: Database | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """`clock`: the time source for deadlines and records (tests inject one)."""
    settings = settings or FeedbackSettings()
    db = db or Database(settings.database_url)
    clock = clock or utcnow
    consumers = _consumers(settings, db)
    registry = CollectorRegistry(auto_describe=True)
    complaints, book = build_complaints(settings, clock)
    app = build_service_app(
        name="feedback",
        title="Feedback service",
        description="Satisfaction surveys with analysis; complaints handled within the legal deadlines.",
        settings=settings,
        routers=[*routers, feed_router(outbox)],
        alembic_ini=HERE / "alembic.ini",
        db=db,
        consumers=consumers,
        jobs=build_jobs(settings, db, complaints, clock, book),
        registry=registry,
        audit_chain=audit_chain,
        approvals=book,
    )
    app.state.complaints = complaints
    app.state.clock = clock  # the kit's Now (services.common.deps)
    app.state.surveys = SurveyContext(
        clock=clock,
        vault=complaints.vault,
        follow_up_hours=settings.follow_up_hours,
        small_sample=settings.small_sample_threshold,
        free_text_max=settings.free_text_max_chars,
    )
    install_domain_metrics(
        registry, lambda: count_deadlines(db, ctx=complaints), lambda: count_active(db, today=clock().date())
    )
    app.state.branch_scope = BranchScope(app.state.db, branch, customer_branch=customer_branch)
    return app
