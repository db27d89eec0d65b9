"""Profile settings (environment prefix PROFILE_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.config import (
    DEV_HMAC_KEY,
    ApprovalSettings,
    BaseServiceSettings,
    EventTransportSettings,
    JobSettings,
    PersonalDataSettings,
)


class ProfileSettings(ApprovalSettings, PersonalDataSettings, JobSettings, EventTransportSettings, BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROFILE_", extra="ignore", frozen=True)

    port: int = 8001
    database_url: str = "sqlite:///data/profile.db"
    pii_hmac_key: str = DEV_HMAC_KEY
    mask_resident_id: str = "6,4"  # characters kept at the start and the end
    mask_credit_code: str = "6,4"
    mask_id_document: str = "2,3"  # passports, travel permits, permanent residence cards
    mask_phone: str = "3,4"
    risk_assessment_valid_months: int = 12  # an older assessment counts as none
    # Retention (docs/privacy.md): a customer closed this many years ago is erased by the scheduled
    # job retention_sweep (cron in jobs_zone, or "every <N>s"; docs/operations.md), as a request
    # would; the anti-money-laundering law keeps identity records 10 years after the relationship ends
    retention_closed_customer_years: int = Field(default=10, ge=1)
    job_retention_sweep_schedule: str = "15 2 * * *"
    # PostgreSQL: transaction_record's monthly partitions are created this many months ahead.
    job_month_partitions_schedule: str = "45 3 * * *"
    partition_months_ahead: int = Field(default=3, ge=1, le=24)
    # Care reminders (docs/api-profile.md, Relationship managers and care): the daily job puts each
    # occasion on the feed once, this many days ahead; a customer whose latest assets reach the
    # valuable mark (fen) and who made no transaction for the dormant days is a valuable one going dormant.
    job_care_reminders_schedule: str = "20 6 * * *"
    care_expiry_days: int = Field(default=30, ge=1, le=366)
    care_birthday_days: int = Field(default=7, ge=0, le=60)
    care_dormant_days: int = Field(default=90, ge=1)
    care_valuable_aum_fen: int = Field(default=50_000_000, ge=0)
    # Dual control (docs/api-profile.md, Dual control): an erasure staff ask for waits for a second
    # supervisor or admin (PROFILE_APPROVAL_TTL_HOURS, ApprovalSettings); past this many reveals a day
    # (the bank's calendar, jobs_zone) a staff member's next reveal waits for one too, and its approval
    # grants one reveal of that customer until PROFILE_REVEAL_APPROVAL_TTL_HOURS after the request.
    dual_control_erasure: bool = True
    reveal_daily_limit: int = Field(default=20, ge=0)  # 0: reveals are not under dual control
    reveal_approval_ttl_hours: int = Field(default=8, ge=1, le=720)

    def secret_fields(self) -> list[str]:
        return ["jwt_secret", "pii_keys", "pii_hmac_key"]
