"""`python -m services.feedback.tools.jobs list | run <job> [--force]`: feedback's scheduled jobs
(overdue_sweep, retention_sweep, approvals_expiry, month_partitions) from a shell or a Kubernetes
CronJob (services.common.jobs_cli)."""

import sys

from services.common.db import Database, utcnow
from services.common.jobs import JobRunner
from services.common.jobs_cli import main
from services.feedback.app import build_complaints
from services.feedback.config import FeedbackSettings
from services.feedback.service.jobs import build_jobs


def runner() -> JobRunner:
    settings = FeedbackSettings()
    ctx, book = build_complaints(settings, utcnow)
    return build_jobs(settings, Database(settings.database_url), ctx, utcnow, book)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], runner, "python -m services.feedback.tools.jobs"))
