"""Loyalty API models for rewards and redemptions."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool, ValidationInfo, field_validator

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.loyalty.schemas.fields import Code, Instant, Points, RewardType, Segment, Text, Tier


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
