"""Wires the profile service: settings, database, personal-data vault, routers, the retention job."""

from datetime import datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.common.app import build_service_app
from services.common.approvals import ApprovalBook
from services.common.branch_scope import BranchScope
from services.common.db import Database, utcnow
from services.common.outbox import feed_head, feed_router
from services.common.pii import Mask, PersonalDataVault
from services.profile.api import routers
from services.profile.api.fast_read import CustomerReadPath
from services.profile.config import ProfileSettings
from services.profile.metrics import ProfileMetrics
from services.profile.models import approval, audit_chain, branch, outbox
from services.profile.service.customers import Privacy, customer_branch, customer_reader
from services.profile.service.dual_control import ERASE, REVEAL, erasure_executor, grant_reveal
from services.profile.service.jobs import build_jobs

HERE = Path(__file__).parent


def _feed_head(db: Database) -> int:
    with db.read() as s:
        return feed_head(s, outbox)


def build_privacy(settings: ProfileSettings) -> Privacy:
    return Privacy(
        vault=PersonalDataVault(settings.pii_keys, settings.pii_hmac_key),
        resident_id_mask=Mask.parse(settings.mask_resident_id),
        credit_code_mask=Mask.parse(settings.mask_credit_code),
        phone_mask=Mask.parse(settings.mask_phone),
        reveal_roles=settings.reveal_role_set,
        document_mask=Mask.parse(settings.mask_id_document),
    )


def build_approvals(settings: ProfileSettings, db: Database, privacy: Privacy) -> ApprovalBook:
    """Dual control in profile: erasure staff ask for, reveals beyond the daily count (settings)."""
    return ApprovalBook(
        table=approval,
        outbox=outbox,
        audit_chain=audit_chain,
        branches=branch,
        vault=privacy.vault,
        executors={ERASE: erasure_executor(db, privacy), REVEAL: grant_reveal},
        ttls={
            ERASE: timedelta(hours=settings.approval_ttl_hours),
            REVEAL: timedelta(hours=settings.reveal_approval_ttl_hours),
        },
        enabled=frozenset(
            ({ERASE} if settings.dual_control_erasure else set()) | ({REVEAL} if settings.reveal_daily_limit else set())
        ),
    )


def create_app(settings: ProfileSettings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or ProfileSettings()
    db = db or Database(settings.database_url)
    registry = CollectorRegistry(auto_describe=True)
    ProfileMetrics(registry, feed_head=lambda: _feed_head(db))
    privacy = build_privacy(settings)
    app: FastAPI

    def clock() -> datetime:
        return app.state.clock()  # type: ignore[no-any-return]

    book = build_approvals(settings, db, privacy)
    app = build_service_app(
        name="profile",
        title="Profile service",
        description="Customers of the Postal Savings Bank: identity, contacts, status; the customer event feed.",
        settings=settings,
        routers=[*routers, feed_router(outbox)],
        alembic_ini=HERE / "alembic.ini",
        db=db,
        fast_paths=[CustomerReadPath()],
        registry=registry,
        audit_chain=audit_chain,
        jobs=build_jobs(settings, db, privacy, clock, book),
        approvals=book,
    )
    app.state.customer_by_id = customer_reader(app.state.db)
    app.state.branch_scope = BranchScope(app.state.db, branch, customer_branch=customer_branch)
    app.state.privacy = privacy
    app.state.clock = utcnow  # tests replace it to move time without sleeping
    return app
