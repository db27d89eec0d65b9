"""`python -m services.feedback.tools.jobs list | run <job> [--force]`: feedback's scheduled jobs
(overdue_sweep, retention_sweep) from a shell or a Kubernetes CronJob (services.common.jobs_cli)."""

import sys

from services.common.db import Database, utcnow
from services.common.jobs import JobRunner
from services.common.jobs_cli import main
from services.common.pii import PersonalDataVault
from services.feedback.app import rules_from
from services.feedback.config import FeedbackSettings
from services.feedback.service.complaints import ComplaintContext
from services.feedback.service.jobs import build_jobs


def runner() -> JobRunner:
    settings = FeedbackSettings()
    ctx = ComplaintContext(
        rules=rules_from(settings),
        vault=PersonalDataVault(settings.pii_keys, ""),
        clock=utcnow,
        handling_survey_id=settings.handling_survey_id,
    )
    return build_jobs(settings, Database(settings.database_url), ctx, utcnow)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], runner, "python -m services.feedback.tools.jobs"))
