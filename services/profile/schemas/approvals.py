"""Approval requests of dual control in profile: a customer's erasure asked by staff, and a reveal of
full personal data beyond the staff member's daily count."""

import uuid
from typing import Literal

from pydantic import Field

from services.common.approvals_api import ApprovalReadBase
from services.common.pagination import Page
from services.common.schema import ResponseModel


class ErasurePayload(ResponseModel):
    customer_id: uuid.UUID
    reason: str
    requested_via: str


class RevealPayload(ResponseModel):
    customer_id: uuid.UUID
    reason: str
    fields: list[str] = Field(description="the fields the reveal shows in full")


class ApprovalRead(ApprovalReadBase):
    action: Literal["customer.erase", "customer.reveal"]
    object_id: str = Field(description="the customer")
    payload: ErasurePayload | RevealPayload = Field(description="exactly what approval does")
    why: Literal["erasure", "over_daily_reveals"] = Field(
        description="erasure: staff-asked erasure is under dual control; over_daily_reveals: beyond the maker's "
        "reveals of the day"
    )


ApprovalPage = Page[ApprovalRead]
