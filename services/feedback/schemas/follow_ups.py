"""Follow-up API models: a detractor's call-back task and its outcome."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schema import RequestModel, ResponseModel


class FollowUpRead(ResponseModel):
    id: uuid.UUID
    response_id: uuid.UUID
    survey_id: uuid.UUID
    customer_id: str
    branch_code: str | None
    reason: str
    status: Literal["open", "done"]
    created_at: datetime
    due_at: datetime
    outcome: str | None
    note: str | None
    completed_by: str | None
    completed_at: datetime | None


class FollowUpPage(BaseModel):
    items: list[FollowUpRead]
    next_cursor: str | None = None


class FollowUpOutcome(RequestModel):
    outcome: Literal["reached_resolved", "reached_unresolved", "unreachable", "declined"]
    note: str | None = Field(default=None, max_length=2000)
