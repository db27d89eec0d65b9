"""Feedback settings (environment prefix FEEDBACK_): deadlines, windows, thresholds, feeds."""

from datetime import date

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.config import (
    ApprovalSettings,
    BaseServiceSettings,
    EventTransportSettings,
    FeedConsumerSettings,
    JobSettings,
    PersonalDataSettings,
)


class FeedbackSettings(
    ApprovalSettings,
    PersonalDataSettings,
    JobSettings,
    FeedConsumerSettings,
    EventTransportSettings,
    BaseServiceSettings,
):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore", frozen=True)

    port: int = 8003  # pii_keys and reveal_roles: PersonalDataSettings (complainants and all free text)
    database_url: str = "sqlite:///data/feedback.db"
    # Complaint deadlines (calendar days; 2020 measures for banking consumer complaints)
    complaint_days: int = 15
    complaint_extended_days: int = 30
    complaint_max_days: int = 60
    complaint_at_risk_share: float = 0.8
    review_request_days: int = 30  # after the decision is communicated
    review_decision_days: int = 30
    # Scheduled job (services.common.jobs; cron in jobs_zone, or "every <N>s"): flags overdue complaints
    # (complaint.overdue); docs/operations.md
    job_overdue_sweep_schedule: str = "every 300s"
    job_retention_sweep_schedule: str = "45 2 * * *"  # redacts what is past retention (below)
    # PostgreSQL: survey_response's and survey_answer's monthly partitions are created this many months ahead.
    job_month_partitions_schedule: str = "55 3 * * *"
    partition_months_ahead: int = Field(default=3, ge=1, le=24)
    # The second extension (to the maximum) waits for a supervisor or admin other than the staff member
    # who asks (dual control; requests expire after FEEDBACK_APPROVAL_TTL_HOURS). Off: a supervisor
    # extends alone, as before.
    dual_control_second_extension: bool = True
    # Retention (docs/privacy.md): a finished complaint's complainant details and free text are
    # redacted this many years after its last step; free-text survey answers and follow-up notes
    # are cleared after theirs
    retention_complaint_years: int = Field(default=3, ge=1)
    retention_survey_text_years: int = Field(default=2, ge=1)
    # Public holidays (YYYY-MM-DD, comma separated): a deadline ending on one moves to the next day
    # that is not listed. Empty: pure calendar days.
    holidays: str = ""
    # Surveys
    follow_up_hours: int = 48
    small_sample_threshold: int = 30  # scores from fewer responses are flagged
    free_text_max_chars: int = 2000
    handling_survey_id: str = ""  # a published survey whose invitation goes out when a complaint closes
    # Feeds (empty disables the consumer)
    profile_feed_url: str = ""  # unset: profile's feed at its port (FeedConsumerSettings)
    segmentation_feed_url: str = ""  # unset: segmentation's feed at its port (FeedConsumerSettings)
    consumer_max_lag: int = 1000  # readiness fails beyond this many unapplied events

    def secret_fields(self) -> list[str]:
        return ["jwt_secret", "pii_keys"]

    @property
    def holiday_dates(self) -> frozenset[date]:
        return frozenset(date.fromisoformat(d.strip()) for d in self.holidays.split(",") if d.strip())
