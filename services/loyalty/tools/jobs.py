"""`python -m services.loyalty.tools.jobs list | run <job> [--force]`: loyalty's scheduled jobs
(points_expiry, ledger_check, care_reminders, approvals_expiry)
from a shell or a Kubernetes CronJob (services.common.jobs_cli)."""

import sys

from services.common.db import Database, utcnow
from services.common.jobs import JobRunner
from services.common.jobs_cli import main
from services.loyalty.app import build_approvals, build_policy
from services.loyalty.config import LoyaltySettings
from services.loyalty.service.jobs import build_jobs


def runner() -> JobRunner:
    settings = LoyaltySettings()
    policy = build_policy(settings)
    return build_jobs(settings, Database(settings.database_url), policy, utcnow, build_approvals(settings, policy))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], runner, "python -m services.loyalty.tools.jobs"))
