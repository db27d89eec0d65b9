"""`python -m services.loyalty.tools.jobs list | run <job> [--force]`: loyalty's scheduled jobs
(points_expiry, ledger_check) from a shell or a Kubernetes CronJob (services.common.jobs_cli)."""

import sys

from services.common.db import Database, utcnow
from services.common.jobs import JobRunner
from services.common.jobs_cli import main
from services.loyalty.app import build_policy
from services.loyalty.config import LoyaltySettings
from services.loyalty.service.jobs import build_jobs


def runner() -> JobRunner:
    settings = LoyaltySettings()
    return build_jobs(settings, Database(settings.database_url), build_policy(settings), utcnow)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], runner, "python -m services.loyalty.tools.jobs"))
