"""Loyalty settings (environment prefix LOYALTY_)."""

from typing import Any
from zoneinfo import ZoneInfo

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.common.config import (
    ApprovalSettings,
    BaseServiceSettings,
    EventTransportSettings,
    FeedConsumerSettings,
    JobSettings,
    peer_url,
    with_derived,
)


class LoyaltySettings(ApprovalSettings, JobSettings, FeedConsumerSettings, EventTransportSettings, BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore", frozen=True)

    port: int = 8004
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

    @model_validator(mode="before")
    @classmethod
    def _derive_segmentation_url(cls, values: Any) -> Any:
        return with_derived(values, {"segmentation_url": peer_url("segmentation")})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)

    @property
    def tiers(self) -> list[tuple[str, int]]:
        pairs = [p.split(":") for p in self.tier_thresholds.split(",") if p.strip()]
        return sorted(((name.strip(), int(points)) for name, points in pairs), key=lambda t: t[1])
