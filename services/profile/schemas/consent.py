"""Contact points, marketing consent per channel, the do-not-contact flag and contactability."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.profile.schemas.fields import Reason, Version

ContactKind = Literal["mobile", "landline", "email", "postal_address", "app_push"]
ConsentChannel = Literal["sms", "phone_call", "email", "app_push"]
ConsentStatus = Literal["granted", "withdrawn"]
GivenVia = Literal["counter", "mobile", "online", "phone", "sms", "email", "app"]
Purpose = Literal["marketing"]
NotContactableReason = Literal[
    "no_consent", "consent_withdrawn", "do_not_contact", "no_contact_point", "customer_closed"
]


class ContactCreate(RequestModel):
    """`value` by kind: a mainland mobile, a mainland landline with area code (010 and 02x take 8
    digits, the other area codes 7 or 8), a number elsewhere as +<country code><number> (E.164: Hong
    Kong +852, Macao +853, Taiwan +886, any country; mobile or landline as its numbering plan
    says), an email address, a postal address (5-200 characters, one line), or an app push token
    (16-256 of A-Z a-z 0-9 : _ -)."""

    kind: ContactKind
    value: str = Field(min_length=1, max_length=256)
    is_preferred: bool = Field(default=False, description="makes it the one preferred channel")


class ContactRead(ResponseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    kind: ContactKind
    value: str = Field(description="masked")
    is_preferred: bool
    created_at: datetime


class ContactList(ResponseModel):
    items: list[ContactRead]


class DeliveryAddress(ResponseModel):
    customer_id: uuid.UUID
    channel: Literal["sms", "email"]
    address: str = Field(description="unmasked: the number or address a service message goes to now")


class ConsentChange(RequestModel):
    channel: ConsentChannel
    status: ConsentStatus
    purpose: Purpose = "marketing"
    given_via: GivenVia = Field(description="the channel through which the customer gave or withdrew it")
    policy_version: Version


class ConsentRecordRead(ResponseModel):
    id: int
    customer_id: uuid.UUID
    purpose: Purpose
    channel: ConsentChannel
    status: ConsentStatus
    given_via: GivenVia
    policy_version: str
    actor_sub: str
    recorded_at: datetime


class ConsentHistoryPage(Page[ConsentRecordRead]):
    pass


class ChannelConsent(ResponseModel):
    channel: ConsentChannel
    status: Literal["granted", "withdrawn", "none"]
    given_via: GivenVia | None
    policy_version: str | None
    recorded_at: datetime | None


class ConsentState(ResponseModel):
    customer_id: uuid.UUID
    purpose: Purpose
    do_not_contact: bool
    channels: list[ChannelConsent]


class DoNotContactChange(RequestModel):
    do_not_contact: bool
    reason: Reason


class ChannelContactability(ResponseModel):
    channel: ConsentChannel
    contactable: bool
    reason: Literal["consent_granted"] | NotContactableReason


class Contactability(ResponseModel):
    customer_id: uuid.UUID
    purpose: Purpose
    do_not_contact: bool
    channels: list[ChannelContactability]
    contactable_channels: list[ConsentChannel]
