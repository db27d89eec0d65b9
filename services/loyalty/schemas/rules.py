"""Loyalty API models for earning rules and their versions; multiplier factors are decimal strings ("1.5")."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from services.common.money import fen_to_str
from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.loyalty.schemas.fields import Channel, Code, EarnKind, Factor, Instant, Money, Points, Segment, Text


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
