"""The interaction log: each contact with a customer, recorded by staff."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.common.text import multi_line
from services.profile.schemas.fields import ShortText

InteractionChannel = Literal["counter", "phone", "sms", "email", "app", "visit"]
Direction = Literal["inbound", "outbound"]
SUMMARY_MAX = 2000


class InteractionCreate(RequestModel):
    channel: InteractionChannel
    direction: Direction
    topic: ShortText
    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX), AfterValidator(multi_line)] = Field(
        description=f"free text, at most {SUMMARY_MAX} characters"
    )
    occurred_at: AwareDatetime | None = Field(default=None, description="default now; never in the future")
    branch_code: Annotated[str, Field(pattern=r"^[A-Z0-9]{4,16}$")] | None = Field(
        default=None, description="default: the branch in the caller's token"
    )


class InteractionRead(ResponseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    channel: InteractionChannel
    direction: Direction
    topic: str
    summary: str
    staff_id: str
    branch_code: str | None
    occurred_at: datetime
    recorded_at: datetime


class InteractionPage(Page[InteractionRead]):
    pass
