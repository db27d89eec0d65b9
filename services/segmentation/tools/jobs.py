"""`python -m services.segmentation.tools.jobs list | run <job> [--force]`: segmentation's scheduled job
(daily_recompute, approvals_expiry) from a shell or a Kubernetes CronJob (services.common.jobs_cli)."""

import sys

from services.common.db import Database, utcnow
from services.common.jobs import JobRunner
from services.common.jobs_cli import main
from services.segmentation.app import build_approvals
from services.segmentation.config import SegmentationSettings
from services.segmentation.service.context import Context
from services.segmentation.service.jobs import build_jobs


def runner() -> JobRunner:
    settings = SegmentationSettings()
    ctx = Context(db=Database(settings.database_url), settings=settings, clock=utcnow)
    return build_jobs(ctx, build_approvals(settings))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], runner, "python -m services.segmentation.tools.jobs"))
