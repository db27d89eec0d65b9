"""Loyalty API models for campaigns, their dry run and their outreach records."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from services.common.schema import RequestModel, ResponseModel
from services.common.text import single_line
from services.loyalty.schemas.fields import Instant, Segment, Text

CampaignChannel = Literal["sms", "app_push", "email", "phone_task"]
Purpose = Literal["marketing", "service"]
CampaignStatus = Literal["draft", "launched", "finished", "cancelled"]
OutreachState = Literal["queued", "sent", "delivered", "failed", "opened", "responded", "converted"]
Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description='local time "HH:MM"')]
Template = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        description="the message in Chinese, with variables in braces: {points_balance}, {tier}, {campaign_name}, "
        "{product_code}, {send_until_date}; any other is a 422",
    ),
    AfterValidator(single_line),
]


class CampaignCreate(RequestModel):
    name: Text
    audience: Segment
    channel: CampaignChannel
    purpose: Purpose
    template: Template
    product_code: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,31}$")] | None = Field(
        default=None, description="the promoted product (segmentation's catalogue code): its purchase is a conversion"
    )
    attribution_days: Annotated[int, Field(strict=True, ge=1, le=365)] | None = Field(
        default=None, description="days after sending within which a purchase counts; default LOYALTY_ATTRIBUTION_DAYS"
    )
    send_from: Instant
    send_until: Instant
    quiet_start: Clock | None = Field(default=None, description="default LOYALTY_QUIET_HOURS_START (21:00)")
    quiet_end: Clock | None = Field(default=None, description="default LOYALTY_QUIET_HOURS_END (08:00); = start: none")


class CampaignRead(ResponseModel):
    id: uuid.UUID
    name: str
    audience: str
    channel: CampaignChannel
    purpose: Purpose
    template: str
    product_code: str | None
    attribution_days: int
    send_from: datetime
    send_until: datetime
    quiet_start: str
    quiet_end: str
    branch_code: str | None = Field(description="the creator's branch; null: the head office's, the whole bank")
    status: CampaignStatus
    funnel: dict[str, int] | None = Field(description="at launch: how many were left after each filter")
    created_by: str
    launched_by: str | None
    launched_at: datetime | None
    created_at: datetime


class CampaignPage(ResponseModel):
    items: list[CampaignRead]
    next_cursor: str | None


class FunnelStep(ResponseModel):
    filter: Literal["audience", "do_not_contact", "consent", "contactability", "frequency_cap"]
    left: int


class DryRun(ResponseModel):
    campaign_id: uuid.UUID
    steps: list[FunnelStep] = Field(description="in order: the count left after each filter")


class OutreachRead(ResponseModel):
    id: int
    campaign_id: uuid.UUID
    customer_id: uuid.UUID
    channel: CampaignChannel
    purpose: Purpose
    state: OutreachState
    attempts: int
    failure_reason: str | None
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    responded_at: datetime | None
    converted_at: datetime | None
    failed_at: datetime | None


class OutreachPage(ResponseModel):
    items: list[OutreachRead]
    next_cursor: str | None


class Receipt(RequestModel):
    state: Literal["delivered", "opened", "responded"]


class SmsReport(RequestModel):
    reference: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
    status: Literal["delivered", "undelivered"]
