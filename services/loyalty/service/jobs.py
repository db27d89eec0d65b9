"""Loyalty's scheduled jobs: points expiry, the ledger check, the care reminders, the expiry of approval
requests and the ledger's monthly partitions created ahead on PostgreSQL (services.common.jobs)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from services.common.approvals import ApprovalBook, expiry_job
from services.common.db import Database
from services.common.jobs import Job, JobRunner, Schedule, holder_name
from services.common.partitions import month_partitions_job
from services.loyalty.config import LoyaltySettings
from services.loyalty.models import job_run, metadata
from services.loyalty.service.accounts import check_balances
from services.loyalty.service.expiry import run_expiry
from services.loyalty.service.policy import Policy
from services.loyalty.service.reminders import run_reminders


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

    def care_reminders() -> str:
        done = run_reminders(
            db,
            now=clock(),
            points_days=settings.care_points_expiring_days,
            event_hours=settings.care_event_reminder_hours,
            zone=settings.zone,
        )
        return f"{done.points_expiring} points-expiring reminders, {done.event_reminders} event reminders"

    zone = settings.jobs_zone
    jobs = [
        Job("points_expiry", Schedule(settings.job_points_expiry_schedule, zone), expire, timedelta(hours=2)),
        Job("ledger_check", Schedule(settings.job_ledger_check_schedule, zone), check, timedelta(hours=1)),
        Job("care_reminders", Schedule(settings.job_care_reminders_schedule, zone), care_reminders, timedelta(hours=2)),
        expiry_job(book, db, Schedule(settings.job_approvals_expiry_schedule, zone), clock),
        month_partitions_job(
            db, metadata, Schedule(settings.job_month_partitions_schedule, zone), clock, settings.partition_months_ahead
        ),
    ]
    return JobRunner(db, job_run, jobs, clock, holder_name())
