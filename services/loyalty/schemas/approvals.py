"""Approval requests of dual control (maker-checker) in loyalty: points adjustments, the retirement
of a reward and the launch of a campaign; the fields every service shares are the kit's
(services.common.approvals_api)."""

import uuid
from typing import Any, Literal

from pydantic import Field

from services.common.approvals_api import ApprovalReadBase
from services.common.schema import ResponseModel


class AdjustmentPayload(ResponseModel):
    customer_id: uuid.UUID
    points: int
    reason: str | None = Field(
        description="as typed, with ID numbers, phones, cards and emails inside masked; [erased] once the customer is"
    )


class RewardRetirementPayload(ResponseModel):
    reward_id: uuid.UUID
    version: int = Field(description="the reward's version the maker saw (If-Match); a later change makes approval 412")
    changes: dict[str, Any] = Field(description="the PATCH body, made as one change on approval")


class LaunchPayload(ResponseModel):
    campaign_id: uuid.UUID


class ApprovalRead(ApprovalReadBase):
    action: Literal["points.adjust", "reward.retire", "campaign.launch"]
    object_id: str = Field(
        description="points.adjust: the customer whose account it is for; reward.retire: the reward; "
        "campaign.launch: the campaign"
    )
    payload: AdjustmentPayload | RewardRetirementPayload | LaunchPayload = Field(
        description="exactly what approval does"
    )
    why: Literal["over_limit", "over_daily_cap", "retirement", "launch"] = Field(
        description="over_limit: beyond the per-adjustment limit; over_daily_cap: beyond the maker's daily total; "
        "retirement: retiring a reward is under dual control; launch: every campaign launch is"
    )
    entry_id: int | None = Field(default=None, description="the ledger entry an approved adjustment posted")
    queued: int | None = Field(default=None, description="the outreach records an approved launch queued")


class ApprovalPage(ResponseModel):
    items: list[ApprovalRead]
    next_cursor: str | None
