"""Loyalty API models for points accounts, the ledger statement, expiring points and adjustments."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.common.text import single_line
from services.loyalty.schemas.fields import MAX_POINTS, Tier


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
    reason: str | None = Field(description="the typed reason, values inside masked (in full in the person's export)")
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
    reason: Annotated[str, Field(min_length=5, max_length=500), AfterValidator(single_line)]

    @field_validator("points")
    @classmethod
    def _not_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("an adjustment of zero points changes nothing")
        return v
