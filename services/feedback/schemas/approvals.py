"""Approval requests of dual control in feedback: the second extension of a complaint's time limit."""

import uuid
from typing import Literal

from pydantic import Field

from services.common.approvals_api import ApprovalReadBase
from services.common.pagination import Page
from services.common.schema import ResponseModel


class ExtensionPayload(ResponseModel):
    complaint_id: uuid.UUID
    to_days: int = Field(description="the time limit the extension sets, in days from receipt")
    reason: str | None
    notice_sent_at: str | None = Field(description="when the complainant was told")
    note: str | None


class ApprovalRead(ApprovalReadBase):
    action: Literal["complaint.extend"]
    object_id: str = Field(description="the complaint")
    payload: ExtensionPayload = Field(description="exactly what approval does: the extension step appended")
    why: Literal["second_extension"] = Field(description="a second extension needs a second person")


ApprovalPage = Page[ApprovalRead]
