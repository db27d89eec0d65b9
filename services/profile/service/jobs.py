"""Profile's scheduled jobs: the retention sweep, and the monthly partitions of transactions created
ahead on PostgreSQL (services.common.jobs runs each once per window across replicas)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from services.common.approvals import ApprovalBook, expiry_job
from services.common.db import Database
from services.common.jobs import Job, JobRunner, Schedule, holder_name
from services.common.partitions import ensure_partitions_ahead
from services.profile.config import ProfileSettings
from services.profile.models import job_run, metadata
from services.profile.service.customers import Privacy
from services.profile.service.retention import sweep_retention


def build_jobs(
    settings: ProfileSettings, db: Database, privacy: Privacy, clock: Callable[[], datetime], book: ApprovalBook
) -> JobRunner:
    def retention() -> str:
        now, years = clock(), settings.retention_closed_customer_years
        return f"{sweep_retention(db, privacy=privacy, now=now, years=years)} closed customers erased"

    def month_partitions() -> str:
        created = ensure_partitions_ahead(db, metadata, clock(), settings.partition_months_ahead)
        return f"{len(created)} partitions created" + (f": {', '.join(created)}" if created else "")

    zone = settings.jobs_zone
    jobs = [
        Job("retention_sweep", Schedule(settings.job_retention_sweep_schedule, zone), retention, timedelta(hours=2)),
        Job(
            "month_partitions",
            Schedule(settings.job_month_partitions_schedule, zone),
            month_partitions,
            timedelta(hours=1),
        ),
        expiry_job(book, db, Schedule(settings.job_approvals_expiry_schedule, zone), clock),
    ]
    return JobRunner(db, job_run, jobs, clock, holder_name())
