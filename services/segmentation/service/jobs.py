"""Segmentation's scheduled job: the daily recompute (windows that moved, classes, rule segments), run
once per window across replicas by services.common.jobs."""

from datetime import timedelta

from services.common.approvals import ApprovalBook, expiry_job
from services.common.jobs import Job, JobRunner, Schedule, holder_name
from services.segmentation.models import job_run
from services.segmentation.service import recomputes
from services.segmentation.service.context import Context

SCHEDULER = "segmentation-scheduler"


def build_jobs(ctx: Context, book: ApprovalBook) -> JobRunner:
    def recompute() -> str:
        job, created = recomputes.start_recompute(ctx, actor=SCHEDULER, windows=recomputes.WINDOWS_MOVED)
        if not created:
            return f"recompute {job.id} was already running"
        recomputes.run_recompute(ctx, job_id=job.id)
        done = recomputes.require_job(ctx.db, job_id=job.id)
        if done.status != "succeeded":
            raise RuntimeError(f"recompute {job.id} ended {done.status}")
        return f"recompute {job.id}: {done.changed} class changes"

    schedule = Schedule(ctx.settings.job_daily_recompute_schedule, ctx.settings.jobs_zone)
    jobs = [
        Job("daily_recompute", schedule, recompute, timedelta(hours=3)),
        expiry_job(
            book, ctx.db, Schedule(ctx.settings.job_approvals_expiry_schedule, ctx.settings.jobs_zone), ctx.clock
        ),
    ]
    return JobRunner(ctx.db, job_run, jobs, ctx.clock, holder_name())
