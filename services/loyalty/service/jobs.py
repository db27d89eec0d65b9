"""Loyalty's scheduled jobs: points expiry, the ledger check and the expiry of approval requests
(services.common.jobs)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from services.common.approvals import ApprovalBook, expiry_job
from services.common.db import Database
from services.common.jobs import Job, JobRunner, Schedule, holder_name
from services.loyalty.config import LoyaltySettings
from services.loyalty.models import job_run
from services.loyalty.service.accounts import check_balances
from services.loyalty.service.expiry import run_expiry
from services.loyalty.service.policy import Policy


def build_jobs(
    settings: LoyaltySettings,
    db: Database,
    policy: Policy,
    clock: Callable[[], datetime],
    book: ApprovalBook,
    on_ledger_check: Callable[[int], None] = lambda mismatched: None,
) -> JobRunner:
    """`on_ledger_check(mismatched accounts)`: where the check's finding goes (the app's gauge)."""

    def expire() -> str:
        result = run_expiry(db, policy=policy)
        return f"{result.points} points expired in {result.accounts} accounts"

    def check() -> str:
        checked, mismatches = check_balances(db)
        on_ledger_check(len(mismatches))
        return f"{checked} accounts checked, {len(mismatches)} mismatched"

    zone = settings.jobs_zone
    jobs = [
        Job("points_expiry", Schedule(settings.job_points_expiry_schedule, zone), expire, timedelta(hours=2)),
        Job("ledger_check", Schedule(settings.job_ledger_check_schedule, zone), check, timedelta(hours=1)),
        expiry_job(book, db, Schedule(settings.job_approvals_expiry_schedule, zone), clock),
    ]
    return JobRunner(db, job_run, jobs, clock, holder_name())
