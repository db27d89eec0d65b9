"""Loyalty's part of a person's data export."""

import uuid
from datetime import datetime

from pydantic import Field

from services.common.personal_data import AccessRecord
from services.common.schema import ResponseModel
from services.loyalty.schemas.accounts import AccountRead, EntryRead
from services.loyalty.schemas.campaigns import OutreachRead
from services.loyalty.schemas.care import CareTaskRead, NotificationRead
from services.loyalty.schemas.events import CustomerRegistration
from services.loyalty.schemas.rewards import RedemptionRead


class VoucherRead(ResponseModel):
    """A voucher a redemption issued (also in its redemption; listed on its own for the person)."""

    redemption_id: uuid.UUID
    reward_id: uuid.UUID
    voucher_code: str
    valid_until: datetime | None
    used_at: datetime | None


class LoyaltyPersonalData(ResponseModel):
    account: AccountRead | None
    ledger: list[EntryRead]
    redemptions: list[RedemptionRead]
    vouchers: list[VoucherRead]
    event_registrations: list[CustomerRegistration]
    notifications: list[NotificationRead] = Field(description="the customer's inbox")
    care_tasks: list[CareTaskRead] = Field(description="care occasions the relationship manager is to act on")
    outreach: list[OutreachRead] = Field(description="every campaign contact: channel, purpose, state and times")
    access_log: list[AccessRecord]
