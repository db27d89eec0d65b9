"""Segmentation settings (environment prefix SEGMENTATION_): thresholds and windows of the built-in
schemes, per customer type where it matters, with the defaults the README documents."""

from pydantic_settings import SettingsConfigDict

from services.common.config import (
    ApprovalSettings,
    BaseServiceSettings,
    EventTransportSettings,
    FeedConsumerSettings,
    JobSettings,
    PersonalDataSettings,
)


class SegmentationSettings(
    PersonalDataSettings,
    ApprovalSettings,
    JobSettings,
    FeedConsumerSettings,
    EventTransportSettings,
    BaseServiceSettings,
):
    model_config = SettingsConfigDict(env_prefix="SEGMENTATION_", extra="ignore", frozen=True)

    port: int = 8002  # pii_keys: PersonalDataSettings (the reasons typed in approval requests)
    database_url: str = "sqlite:///data/segmentation.db"
    profile_feed_url: str = ""  # unset: profile's feed at its port (FeedConsumerSettings)
    loyalty_feed_url: str = ""  # unset: loyalty's feed at its port (FeedConsumerSettings)
    feedback_feed_url: str = ""  # unset: feedback's feed at its port (FeedConsumerSettings)
    # asset size: AUM (fen) at or above which a customer is major / mid_high / ordinary; below ordinary is micro
    asset_thresholds_individual: str = "500000000,50000000,0"  # 5,000,000.00 / 500,000.00 / 0.00 CNY
    asset_thresholds_enterprise: str = "10000000000,1000000000,100000000"  # 100m / 10m / 1m CNY
    asset_thresholds_interbank: str = "100000000000,10000000000,0"  # 1bn / 100m / 0 CNY
    # behaviour: active with at least this many customer-initiated transactions in the last 90 days
    active_min_txn_90_individual: int = 3
    active_min_txn_90_enterprise: int = 10
    active_min_txn_90_interbank: int = 1
    dormant_days: int = 365  # no customer-initiated transaction for this long (and not new): dormant
    new_customer_days: int = 90  # registered within this many days: never dormant (potential at worst)
    recompute_stale_minutes: int = 60  # a queued or running job silent this long is marked failed (abandoned)
    recompute_inline: bool = False  # run recompute jobs in the request (tests); else a background thread
    # Scheduled job (services.common.jobs; cron in jobs_zone, or "every <N>s"): docs/operations.md
    job_daily_recompute_schedule: str = "30 1 * * *"
    # Retiring a product waits for a second supervisor (dual control; requests expire after
    # SEGMENTATION_APPROVAL_TTL_HOURS, ApprovalSettings).
    dual_control_product_retire: bool = True

    def asset_thresholds(self, customer_type: str) -> tuple[int, int, int]:
        raw = getattr(self, f"asset_thresholds_{customer_type}")
        major, mid_high, ordinary = (int(x) for x in raw.split(","))
        return major, mid_high, ordinary

    def active_min_txn_90(self, customer_type: str) -> int:
        return getattr(self, f"active_min_txn_90_{customer_type}")

    def secret_fields(self) -> list[str]:
        return ["jwt_secret", "pii_keys"]
