"""Loyalty settings (environment prefix LOYALTY_)."""

from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.config import (
    ApprovalSettings,
    BaseServiceSettings,
    EventTransportSettings,
    FeedConsumerSettings,
    JobSettings,
    PersonalDataSettings,
    peer_url,
    with_derived,
)


class LoyaltySettings(
    PersonalDataSettings,
    ApprovalSettings,
    JobSettings,
    FeedConsumerSettings,
    EventTransportSettings,
    BaseServiceSettings,
):
    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore", frozen=True)

    port: int = 8004  # pii_keys: PersonalDataSettings (the reasons typed on the ledger and in approvals)
    database_url: str = "sqlite:///data/loyalty.db"
    # Feeds this service consumes; empty disables that consumer (tests drive consumers directly).
    profile_feed_url: str = ""  # unset: profile's feed at its port (FeedConsumerSettings)
    segmentation_feed_url: str = ""  # unset: segmentation's feed at its port (FeedConsumerSettings)
    feedback_feed_url: str = ""  # unset: feedback's feed at its port (FeedConsumerSettings)
    # Segmentation's API, whose class catalogue a write naming a rule segment is checked against
    # (docs/api-loyalty.md); unset: segmentation at its port; "": not configured (such a write is a 503).
    segmentation_url: str = ""
    segmentation_timeout_seconds: float = 2.0
    # Days and months (caps, expiry) are counted on the bank's calendar.
    business_timezone: str = "Asia/Shanghai"
    # Earned points expire at the end of the Nth calendar month after the month they were earned in.
    expiry_months: int = 12
    # Dual control (maker-checker) of adjustments: one beyond this many points either way, or one that
    # takes the maker's adjustments today (in `zone`) beyond the daily cap, waits for a supervisor or
    # admin other than the maker (docs/api-loyalty.md, Approvals); a request expires unanswered.
    staff_adjust_limit: int = 1000
    adjust_daily_cap: int = 5000
    # Retiring a reward (PATCH is_retired: true) waits for a second supervisor too; the requests of both
    # wait LOYALTY_APPROVAL_TTL_HOURS (ApprovalSettings) before they expire.
    dual_control_reward_retire: bool = True
    # Tiers by lifetime earned points, lowest first ("standard" below the first).
    tier_thresholds: str = "silver:10000,gold:50000,platinum:200000"
    # Scheduled jobs (services.common.jobs; cron in jobs_zone, or "every <N>s"): docs/operations.md
    job_points_expiry_schedule: str = "10 0 * * *"  # after midnight: points of an ended month expire
    job_ledger_check_schedule: str = "40 3 * * *"
    # PostgreSQL: points_ledger_entry's monthly partitions are created this many months ahead.
    job_month_partitions_schedule: str = "50 3 * * *"
    partition_months_ahead: int = Field(default=3, ge=1, le=24)
    # Care reminders (docs/api-loyalty.md, Inbox and care): points expiring within the days become a care
    # task and a notification; registrations for an event starting within the hours get a reminder.
    job_care_reminders_schedule: str = "30 6 * * *"
    care_points_expiring_days: int = 30
    care_event_reminder_hours: int = 48
    # Campaigns (docs/api-loyalty.md, Campaigns): at most this many marketing contacts per customer in
    # the rolling window, across all campaigns (service messages are exempt); quiet hours a campaign takes
    # when it names none (local "HH:MM", start == end: none); how long a conversion is credited after sending.
    marketing_cap: int = Field(default=2, ge=0)
    marketing_cap_days: int = Field(default=7, ge=1)
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "08:00"
    attribution_days: int = Field(default=30, ge=1, le=365)
    # Delivery (docs/operations.md, Delivery): the worker in each loyalty process, every interval.
    delivery_in_process: bool = True
    delivery_interval_seconds: float = Field(default=1.0, gt=0)
    delivery_batch: int = Field(default=500, ge=1, le=10000)
    delivery_max_attempts: int = Field(default=5, ge=1)
    delivery_backoff_seconds: float = Field(default=30.0, ge=0)  # doubled per attempt
    delivery_claim_seconds: float = Field(default=120.0, gt=0)  # a claim older than this: its sender died
    # App push: MQTT broker, per-customer topic `<prefix>/customers/<id>/inbox`, QoS 1.
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_topic_prefix: str = "suite"
    # Email over SMTP (empty host: the channel is not configured and its outreach waits).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "noreply@psbc.example.cn"
    smtp_timeout_seconds: float = 10.0
    # SMS through the bank's HTTP SMS gateway (empty URL: not configured); its delivery reports come
    # back to POST /v1/loyalty/delivery-receipts/sms with this shared token.
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""
    sms_timeout_seconds: float = 5.0
    # Where SMS and email addresses come from: profile's delivery-address endpoint (a system token).
    profile_url: str = ""

    @model_validator(mode="before")
    @classmethod
    def _derive_segmentation_url(cls, values: Any) -> Any:
        return with_derived(values, {"segmentation_url": peer_url("segmentation"), "profile_url": peer_url("profile")})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)

    @property
    def tiers(self) -> list[tuple[str, int]]:
        pairs = [p.split(":") for p in self.tier_thresholds.split(",") if p.strip()]
        return sorted(((name.strip(), int(points)) for name, points in pairs), key=lambda t: t[1])

    def secret_fields(self) -> list[str]:
        return ["jwt_secret", "pii_keys"]
