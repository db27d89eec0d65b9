"""Loyalty API models for customer events (appreciation events, financial lectures) and registrations."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.loyalty.schemas.fields import MAX_POINTS, BranchCode, EventCategory, Instant, Segment, Text


class CustomerEventCreate(RequestModel):
    title: Text
    category: EventCategory
    branch_code: BranchCode
    starts_at: Instant
    ends_at: Instant
    capacity: Annotated[int, Field(strict=True, ge=1, le=100_000)]
    target_segments: Annotated[list[Segment], Field(max_length=20)] = []
    points_price: Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS)] = 0
    attendance_points: Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS)] = 0

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, v: datetime, info: ValidationInfo) -> datetime:
        if "starts_at" in info.data and v <= info.data["starts_at"]:
            raise ValueError("must be after starts_at")
        return v


class CustomerEventRead(ResponseModel):
    id: uuid.UUID
    title: str
    category: EventCategory
    branch_code: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    target_segments: list[str]
    points_price: int
    attendance_points: int
    status: Literal["scheduled", "cancelled"]
    created_at: datetime


class CustomerEventDetail(CustomerEventRead):
    seats_taken: int


class CustomerEventPage(Page[CustomerEventRead]):
    pass


class RegistrationCreate(RequestModel):
    customer_id: uuid.UUID


class RegistrationRead(ResponseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    customer_id: uuid.UUID
    status: Literal["registered", "waitlisted", "cancelled", "attended"]
    queued_at: datetime
    checked_in_at: datetime | None
    updated_at: datetime


class CustomerRegistration(RegistrationRead):
    event: CustomerEventRead


class CustomerRegistrationList(ResponseModel):
    items: list[CustomerRegistration]
