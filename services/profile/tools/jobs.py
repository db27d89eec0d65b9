"""`python -m services.profile.tools.jobs list | run <job> [--force]`: profile's scheduled job
(retention_sweep, month_partitions, care_reminders, approvals_expiry)
from a shell or a Kubernetes CronJob (services.common.jobs_cli)."""

import sys

from services.common.db import Database, utcnow
from services.common.jobs import JobRunner
from services.common.jobs_cli import main
from services.profile.app import build_approvals, build_privacy
from services.profile.config import ProfileSettings
from services.profile.service.jobs import build_jobs


def runner() -> JobRunner:
    settings = ProfileSettings()
    db, privacy = Database(settings.database_url), build_privacy(settings)
    return build_jobs(settings, db, privacy, utcnow, build_approvals(settings, db, privacy))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], runner, "python -m services.profile.tools.jobs"))
