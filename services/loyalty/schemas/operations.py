"""Loyalty API models for activities (points for things done) and the expiry and ledger-check jobs."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool

from services.common.schema import RequestModel, ResponseModel
from services.loyalty.schemas.fields import Code, Points, Text, Trigger


class ActivityCreate(RequestModel):
    code: Code
    name: Text
    points: Points
    trigger: Trigger = Field(description="manual: awarded through the API only")
    is_repeatable: StrictBool = Field(default=False, description="false: once per customer ever")


class ActivityRead(ResponseModel):
    code: str
    name: str
    points: int
    trigger: Trigger
    is_repeatable: bool
    is_retired: bool
    created_at: datetime


class ActivityList(ResponseModel):
    items: list[ActivityRead]


class ActivityAwardCreate(RequestModel):
    customer_id: uuid.UUID
    activity_code: Code
    instance: Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,80}$", description="what was done, e.g. a login id")]


class ExpiryRunRead(ResponseModel):
    as_of: datetime
    accounts: int
    points: int


class MismatchRead(ResponseModel):
    customer_id: uuid.UUID
    stored: int
    ledger: int
    lots: int


class LedgerCheckRead(ResponseModel):
    accounts_checked: int
    mismatches: list[MismatchRead]
