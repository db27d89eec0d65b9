"""Feedback's scheduled jobs (services.common.jobs runs each once per window across replicas): the
overdue sweep, which flags newly overdue complaints and emits complaint.overdue, the retention sweep
(services.feedback.service.retention), the expiry of approval requests and the survey responses'
monthly partitions created ahead on PostgreSQL."""

from collections.abc import Callable
from datetime import datetime, timedelta

from services.common.approvals import ApprovalBook, expiry_job
from services.common.auth import Principal
from services.common.db import Database
from services.common.jobs import Job, JobRunner, Schedule, holder_name
from services.common.partitions import month_partitions_job
from services.feedback.config import FeedbackSettings
from services.feedback.models import job_run, metadata
from services.feedback.service.complaints import ComplaintContext
from services.feedback.service.escalations import sweep_overdue
from services.feedback.service.retention import sweep_retention

SWEEPER = Principal(sub="feedback-overdue-sweep", role="system")


def build_jobs(
    settings: FeedbackSettings, db: Database, ctx: ComplaintContext, clock: Callable[[], datetime], book: ApprovalBook
) -> JobRunner:
    def sweep() -> str:
        return f"{sweep_overdue(db, actor=SWEEPER, ctx=ctx).newly_flagged} complaints newly overdue"

    def retention() -> str:
        years = settings.retention_complaint_years, settings.retention_survey_text_years
        return str(sweep_retention(db, now=clock(), complaint_years=years[0], text_years=years[1]))

    zone = settings.jobs_zone
    jobs = [
        Job("overdue_sweep", Schedule(settings.job_overdue_sweep_schedule, zone), sweep, timedelta(minutes=30)),
        Job("retention_sweep", Schedule(settings.job_retention_sweep_schedule, zone), retention, timedelta(hours=1)),
        expiry_job(book, db, Schedule(settings.job_approvals_expiry_schedule, zone), clock),
        month_partitions_job(
            db, metadata, Schedule(settings.job_month_partitions_schedule, zone), clock, settings.partition_months_ahead
        ),
    ]
    return JobRunner(db, job_run, jobs, clock, holder_name())
