"""Profile's scheduled jobs: the retention sweep, the care reminders (services.profile.service.care),
and the monthly partitions of transactions created ahead on PostgreSQL (services.common.jobs runs each
once per window across replicas)."""

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.common.approvals import ApprovalBook, expiry_job
from services.common.db import Database
from services.common.jobs import Job, JobRunner, Schedule, holder_name
from services.common.partitions import month_partitions_job
from services.profile.config import ProfileSettings
from services.profile.models import job_run, metadata
from services.profile.service.care import CareWindow, remind
from services.profile.service.customers import Privacy
from services.profile.service.retention import sweep_retention


def build_jobs(
    settings: ProfileSettings, db: Database, privacy: Privacy, clock: Callable[[], datetime], book: ApprovalBook
) -> JobRunner:
    def retention() -> str:
        now, years = clock(), settings.retention_closed_customer_years
        return f"{sweep_retention(db, privacy=privacy, now=now, years=years)} closed customers erased"

    def care_reminders() -> str:
        window = CareWindow(
            expiry_days=settings.care_expiry_days,
            birthday_days=settings.care_birthday_days,
            dormant_days=settings.care_dormant_days,
            valuable_aum_fen=settings.care_valuable_aum_fen,
        )
        told = remind(db, now=clock(), window=window, zone=ZoneInfo(settings.jobs_zone))
        return f"{sum(told.values())} care reminders: " + (
            ", ".join(f"{k} {n}" for k, n in sorted(told.items())) or "none"
        )

    zone = settings.jobs_zone
    jobs = [
        Job("retention_sweep", Schedule(settings.job_retention_sweep_schedule, zone), retention, timedelta(hours=2)),
        month_partitions_job(
            db, metadata, Schedule(settings.job_month_partitions_schedule, zone), clock, settings.partition_months_ahead
        ),
        Job("care_reminders", Schedule(settings.job_care_reminders_schedule, zone), care_reminders, timedelta(hours=2)),
        expiry_job(book, db, Schedule(settings.job_approvals_expiry_schedule, zone), clock),
    ]
    return JobRunner(db, job_run, jobs, clock, holder_name())
