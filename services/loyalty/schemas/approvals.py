"""Approval requests of dual control (maker-checker): what was asked, by whom, and how it was decided."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from services.common.schema import RequestModel, ResponseModel
from services.common.text import single_line

ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]


class AdjustmentPayload(ResponseModel):
    customer_id: uuid.UUID
    points: int
    reason: str | None = Field(description="cleared when the customer is erased")


class ApprovalRead(ResponseModel):
    id: uuid.UUID
    action: Literal["points.adjust"]
    object_id: str = Field(description="the customer whose account the adjustment is for")
    payload: AdjustmentPayload = Field(description="exactly what approval does")
    why: Literal["over_limit", "over_daily_cap"] = Field(
        description="over_limit: beyond the per-adjustment limit; over_daily_cap: beyond the maker's daily total"
    )
    status: ApprovalStatus
    maker_sub: str
    maker_role: str
    maker_branch: str | None
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    checker_sub: str | None
    checker_role: str | None
    note: str | None = Field(description="the checker's reason for a rejection")
    entry_id: int | None = Field(description="the ledger entry an approval posted")


class ApprovalPage(ResponseModel):
    items: list[ApprovalRead]
    next_cursor: str | None


class Rejection(RequestModel):
    reason: Annotated[str, Field(min_length=5, max_length=500), AfterValidator(single_line)]
