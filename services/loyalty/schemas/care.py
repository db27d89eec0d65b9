"""Loyalty API models for the customer inbox (notifications) and care tasks."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel

NotificationKind = Literal[
    "complaint_status",
    "survey_invitation",
    "points_expiring",
    "event_reminder",
    "campaign",
    "birthday",
    "deposit_maturity",
    "risk_expiry",
    "agreement_renewal",
]
CareKind = Literal["birthday", "deposit_maturity", "risk_expiry", "agreement_renewal", "points_expiring", "dormant"]
TaskStatus = Literal["open", "completed", "dismissed"]


class NotificationRead(ResponseModel):
    id: int
    kind: NotificationKind
    title: str = Field(description="in Chinese")
    body: str = Field(description="in Chinese")
    data: dict[str, Any] = Field(description="what it is about: complaint_id, survey_id, event_id, due_on...")
    push_state: Literal["none", "pending", "sent"] = Field(
        description="pending: the customer had an app channel with consent when it was made, so it is also pushed"
    )
    is_read: bool
    read_at: datetime | None
    created_at: datetime


class NotificationPage(Page[NotificationRead]):
    unread: int = Field(description="the customer's unread notifications, on every page")


class CareTaskRead(ResponseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    kind: CareKind
    reference: str | None = Field(description="the risk assessment, agreement or holding it is about")
    manager_id: str | None = Field(description="the customer's relationship manager (null: none assigned yet)")
    branch_code: str | None
    due_at: datetime
    status: TaskStatus
    note: str | None
    closed_by: str | None
    closed_at: datetime | None
    created_at: datetime


class CareTaskPage(Page[CareTaskRead]):
    pass


class CareTaskClose(RequestModel):
    outcome: Literal["completed", "dismissed"]
    note: Annotated[str | None, Field(max_length=500)] = None
