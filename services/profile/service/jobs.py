"""Profile's scheduled job: the retention sweep (services.common.jobs runs it once per window across
replicas)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from services.common.db import Database
from services.common.jobs import Job, JobRunner, Schedule, holder_name
from services.profile.config import ProfileSettings
from services.profile.models import job_run
from services.profile.service.customers import Privacy
from services.profile.service.retention import sweep_retention


def build_jobs(settings: ProfileSettings, db: Database, privacy: Privacy, clock: Callable[[], datetime]) -> JobRunner:
    def retention() -> str:
        now, years = clock(), settings.retention_closed_customer_years
        return f"{sweep_retention(db, privacy=privacy, now=now, years=years)} closed customers erased"

    schedule = Schedule(settings.job_retention_sweep_schedule, settings.jobs_zone)
    return JobRunner(
        db, job_run, [Job("retention_sweep", schedule, retention, timedelta(hours=2))], clock, holder_name()
    )
