"""Feedback's scheduled job: the overdue sweep, which flags newly overdue complaints and emits
complaint.overdue (services.common.jobs runs it once per window across replicas)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from services.common.auth import Principal
from services.common.db import Database
from services.common.jobs import Job, JobRunner, Schedule, holder_name
from services.feedback.config import FeedbackSettings
from services.feedback.models import job_run
from services.feedback.service.complaints import ComplaintContext
from services.feedback.service.escalations import sweep_overdue

SWEEPER = Principal(sub="feedback-overdue-sweep", role="system")


def build_jobs(
    settings: FeedbackSettings, db: Database, ctx: ComplaintContext, clock: Callable[[], datetime]
) -> JobRunner:
    def sweep() -> str:
        return f"{sweep_overdue(db, actor=SWEEPER, ctx=ctx).newly_flagged} complaints newly overdue"

    schedule = Schedule(settings.job_overdue_sweep_schedule, settings.jobs_zone)
    return JobRunner(db, job_run, [Job("overdue_sweep", schedule, sweep, timedelta(minutes=30))], clock, holder_name())
