"""Loyalty API models. Points are integers; money is a two-place decimal string (CNY); multiplier
factors are decimal strings ("1.5"); times are RFC 3339 UTC."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StrictBool, ValidationInfo, field_validator

from services.common.money import fen_to_str
from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel

EarnKind = Literal["deposit", "withdrawal", "transfer", "bill_payment", "wealth_purchase", "loan_repayment"]
Channel = Literal["counter", "mobile", "atm", "online"]
RewardType = Literal["gift", "voucher", "ticket"]
Tier = Literal["standard", "silver", "gold", "platinum"]
EventCategory = Literal["appreciation", "lecture", "health_talk", "other"]
Trigger = Literal["manual", "mobile_first_login", "survey_responded", "event_attended"]
MAX_POINTS = 100_000_000


def _utc_in_range(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2200:
        raise ValueError("a time between the years 2000 and 2200")
    return value.astimezone(UTC)


def _no_control(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("control characters are not allowed")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_utc_in_range), Field(description="RFC 3339 with a zone")]
Points = Annotated[int, Field(strict=True, ge=1, le=MAX_POINTS)]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_control)]
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,39}$", description="2-40 of a-z 0-9 _ -")]
Segment = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_.-]{1,60}(:[A-Za-z0-9_.-]{1,60}){1,2}$",
        max_length=200,
        description='"scheme:class", e.g. "asset_size:high"',
    ),
]
Money = Annotated[str, Field(pattern=r"^\d{1,13}\.\d{2}$", description='CNY with two places, "100.00"')]
Factor = Annotated[
    str, Field(pattern=r"^(0\.(0[1-9]|[1-9]\d?)|[1-9]\d?(\.\d{1,2})?)$", description='a multiplier, "0.01" to "99.99"')
]
BranchCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{4,16}$")]


# -- accounts and ledger ---------------------------------------------------------------------------


class AccountCreate(RequestModel):
    customer_id: uuid.UUID


class AccountRead(ResponseModel):
    customer_id: uuid.UUID
    status: Literal["active", "frozen"]
    balance: int
    lifetime_earned: int
    tier: Tier
    enrolled_via: Literal["agreement", "staff"]
    enrolled_at: datetime
    frozen_at: datetime | None
    frozen_reason: str | None
    updated_at: datetime


class EntryRead(ResponseModel):
    id: int
    customer_id: uuid.UUID
    kind: Literal["earn", "redeem", "expire", "adjust", "reverse"]
    points: int = Field(description="signed: credits positive, debits negative")
    balance_after: int
    source: str
    source_ref: str | None
    rule_id: uuid.UUID | None
    rule_version: int | None
    reason: str | None
    occurred_at: datetime
    created_at: datetime


class StatementPage(Page[EntryRead]):
    pass


class ExpiringLot(ResponseModel):
    entry_id: int
    points: int
    remaining: int
    expires_at: datetime


class ExpiringRead(ResponseModel):
    customer_id: uuid.UUID
    as_of: datetime
    until: datetime
    total: int
    lots: list[ExpiringLot]


class AdjustmentCreate(RequestModel):
    points: Annotated[int, Field(strict=True, ge=-MAX_POINTS, le=MAX_POINTS, description="signed, not zero")]
    reason: Annotated[str, Field(min_length=5, max_length=500), AfterValidator(_no_control)]

    @field_validator("points")
    @classmethod
    def _not_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("an adjustment of zero points changes nothing")
        return v


# -- earning rules ---------------------------------------------------------------------------------


class Multiplier(RequestModel):
    """Applies when the transaction's channel is `channel`, or the customer is in `segment`; exactly one."""

    channel: Channel | None = None
    segment: Segment | None = Field(default=None, validate_default=True)
    factor: Factor

    @field_validator("segment")
    @classmethod
    def _one_condition(cls, v: str | None, info: ValidationInfo) -> str | None:
        if "channel" in info.data and (info.data["channel"] is None) == (v is None):
            raise ValueError("give exactly one of channel or segment")
        return v


class MultiplierRead(ResponseModel):
    channel: Channel | None
    segment: str | None
    factor: str


class RuleParamsIn(RequestModel):
    kind: EarnKind
    channel: Channel | None = Field(default=None, description="null: every channel")
    points_per_100_cny: Annotated[int, Field(strict=True, ge=0, le=10_000)]
    min_amount: Money = "0.00"
    daily_cap: Points | None = Field(default=None, description="points per customer per day (bank calendar)")
    monthly_cap: Points | None = None
    multipliers: Annotated[list[Multiplier], Field(max_length=10)] = []
    valid_from: Instant | None = Field(default=None, description="default now")
    valid_until: Instant | None = Field(default=None, description="exclusive; null: open-ended")


class RuleCreate(RuleParamsIn):
    code: Code
    name: Text


class RuleChange(RuleParamsIn):
    """A new version from `valid_from` (default now); the previous version stops there."""

    name: Text | None = None


class RuleRetire(RequestModel):
    at: Instant | None = Field(default=None, description="default now")


class RuleVersionRead(ResponseModel):
    version: int
    kind: EarnKind
    channel: Channel | None
    points_per_100_cny: int
    min_amount: Money
    daily_cap: int | None
    monthly_cap: int | None
    multipliers: list[MultiplierRead]
    valid_from: datetime
    valid_until: datetime | None
    actor_sub: str
    created_at: datetime


class RuleRead(ResponseModel):
    id: uuid.UUID
    code: str
    name: str
    version: int
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime
    versions: list[RuleVersionRead]


class RulePage(Page[RuleRead]):
    pass


def factor_pct(factor: str) -> int:
    whole, _, frac = factor.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def factor_str(pct: int) -> str:
    return fen_to_str(pct)


# -- rewards and redemptions -----------------------------------------------------------------------


class RewardFields(RequestModel):
    name: Text | None = None
    points_price: Points | None = None
    stock: Annotated[int, Field(strict=True, ge=0, le=10_000_000)] | None = Field(
        default=None, description="null: unlimited"
    )
    eligible_segments: Annotated[list[Segment], Field(max_length=20)] | None = None
    eligible_tiers: Annotated[list[Tier], Field(max_length=4)] | None = None
    active_until: Instant | None = None
    per_customer_limit: Annotated[int, Field(strict=True, ge=1, le=1000)] | None = None
    cancel_window_hours: Annotated[int, Field(strict=True, ge=0, le=720)] | None = None


class RewardCreate(RewardFields):
    code: Code
    name: Text
    type: RewardType
    points_price: Points
    voucher_valid_days: Annotated[int, Field(strict=True, ge=1, le=3650)] | None = Field(
        default=None, description="vouchers only; default 30"
    )
    active_from: Instant | None = Field(default=None, description="default now")
    cancel_window_hours: Annotated[int, Field(strict=True, ge=0, le=720)] = 24

    @field_validator("voucher_valid_days")
    @classmethod
    def _vouchers_only(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is not None and info.data.get("type", "voucher") != "voucher":
            raise ValueError("only vouchers have a validity period")
        return v

    @field_validator("active_from")
    @classmethod
    def _before_until(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        until = info.data.get("active_until")
        if v is not None and until is not None and until <= v:
            raise ValueError("must be before active_until")
        return v


class RewardUpdate(RewardFields):
    """Only the fields sent change. `is_retired: true` takes the reward out of the catalogue."""

    is_retired: StrictBool | None = None


class RewardRead(ResponseModel):
    id: uuid.UUID
    code: str
    name: str
    type: RewardType
    points_price: int
    stock: int | None
    voucher_valid_days: int | None
    eligible_segments: list[str]
    eligible_tiers: list[str]
    active_from: datetime
    active_until: datetime | None
    per_customer_limit: int | None
    cancel_window_hours: int
    is_retired: bool
    version: int
    created_at: datetime
    updated_at: datetime


class RewardPage(Page[RewardRead]):
    pass


class RedemptionCreate(RequestModel):
    customer_id: uuid.UUID
    reward_id: uuid.UUID
    quantity: Annotated[int, Field(strict=True, ge=1, le=10)] = 1


class RedemptionRead(ResponseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    reward_id: uuid.UUID
    quantity: int
    points: int
    status: Literal["completed", "cancelled"]
    entry_id: int
    voucher_code: str | None
    voucher_valid_until: datetime | None
    voucher_used_at: datetime | None
    cancel_until: datetime
    cancelled_at: datetime | None
    created_at: datetime


class RedemptionPage(Page[RedemptionRead]):
    pass


# -- customer events -------------------------------------------------------------------------------


class CustomerEventCreate(RequestModel):
    title: Text
    category: EventCategory
    branch_code: BranchCode
    starts_at: Instant
    ends_at: Instant
    capacity: Annotated[int, Field(strict=True, ge=1, le=100_000)]
    target_segments: Annotated[list[Segment], Field(max_length=20)] = []
    points_price: Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS)] = 0
    attendance_points: Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS)] = 0

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, v: datetime, info: ValidationInfo) -> datetime:
        if "starts_at" in info.data and v <= info.data["starts_at"]:
            raise ValueError("must be after starts_at")
        return v


class CustomerEventRead(ResponseModel):
    id: uuid.UUID
    title: str
    category: EventCategory
    branch_code: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    target_segments: list[str]
    points_price: int
    attendance_points: int
    status: Literal["scheduled", "cancelled"]
    created_at: datetime


class CustomerEventDetail(CustomerEventRead):
    seats_taken: int


class CustomerEventPage(Page[CustomerEventRead]):
    pass


class RegistrationCreate(RequestModel):
    customer_id: uuid.UUID


class RegistrationRead(ResponseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    customer_id: uuid.UUID
    status: Literal["registered", "waitlisted", "cancelled", "attended"]
    queued_at: datetime
    checked_in_at: datetime | None
    updated_at: datetime


class CustomerRegistration(RegistrationRead):
    event: CustomerEventRead


class CustomerRegistrationList(ResponseModel):
    items: list[CustomerRegistration]


# -- activities, jobs ------------------------------------------------------------------------------


class ActivityCreate(RequestModel):
    code: Code
    name: Text
    points: Points
    trigger: Trigger = Field(description="manual: awarded through the API only")
    is_repeatable: StrictBool = Field(default=False, description="false: once per customer ever")


class ActivityRead(ResponseModel):
    code: str
    name: str
    points: int
    trigger: Trigger
    is_repeatable: bool
    is_retired: bool
    created_at: datetime


class ActivityList(ResponseModel):
    items: list[ActivityRead]


class ActivityAwardCreate(RequestModel):
    customer_id: uuid.UUID
    activity_code: Code
    instance: Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,80}$", description="what was done, e.g. a login id")]


class ExpiryRunRead(ResponseModel):
    as_of: datetime
    accounts: int
    points: int


class MismatchRead(ResponseModel):
    customer_id: uuid.UUID
    stored: int
    ledger: int
    lots: int


class LedgerCheckRead(ResponseModel):
    accounts_checked: int
    mismatches: list[MismatchRead]
