"""Needs and holdings API models: what the customer says they need, and the products core banking says
they hold."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from services.common.schema import RequestModel, ResponseModel

Purpose = Literal["saving", "wealth_growth", "retirement", "education", "housing", "business", "protection", "everyday"]
Horizon = Literal["short", "medium", "long"]
Liquidity = Literal["high", "medium", "low"]
HoldingCategory = Literal["deposit", "wealth", "loan", "card", "insurance"]
HoldingRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
ProductCode = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,31}$", description="as segmentation's catalogue")]


class NeedsIn(RequestModel):
    purpose: Purpose = Field(description="what the money is for")
    horizon: Horizon = Field(description="short: under a year; medium: one to five years; long: longer")
    liquidity_need: Liquidity = Field(description="how much of it may be needed at short notice")


class NeedsRead(ResponseModel):
    customer_id: uuid.UUID
    purpose: Purpose
    horizon: Horizon
    liquidity_need: Liquidity
    stated_by_role: str
    stated_at: datetime


class HoldingIn(RequestModel):
    product_code: ProductCode
    category: HoldingCategory
    opened_on: date
    matures_on: date | None = Field(default=None, description="deposits and wealth products with a term")
    status: Literal["held", "closed"] = "held"
    closed_on: date | None = Field(default=None, description="required when closed")

    @field_validator("matures_on")
    @classmethod
    def _after_opening(cls, v: date | None, info: ValidationInfo) -> date | None:
        if v is not None and "opened_on" in info.data and v <= info.data["opened_on"]:
            raise ValueError("must be after opened_on")
        return v


class HoldingRead(ResponseModel):
    id: uuid.UUID
    holding_ref: str
    product_code: str
    category: HoldingCategory
    opened_on: date
    matures_on: date | None
    status: Literal["held", "closed"]
    closed_on: date | None
    updated_at: datetime


class HoldingList(BaseModel):
    customer_id: uuid.UUID
    items: list[HoldingRead]
