"""Service agreements: sign, list, revoke."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.profile.schemas.fields import Reason, Version

AgreementType = Literal["basic_account", "e_banking", "wealth_management", "loyalty_programme"]
SignChannel = Literal["counter", "mobile", "online"]
AgreementState = Literal["active", "expired", "superseded", "revoked"]


class AgreementSign(RequestModel):
    """Signing a type the customer already holds supersedes the old agreement."""

    agreement_type: AgreementType
    version: Version
    channel: SignChannel
    signed_at: AwareDatetime | None = Field(
        default=None,
        description="staff only, for a signing on paper: the date on the paper (never in the future), with "
        "`signed_at_reason`; by default, and always for a customer, the server's time",
    )
    signed_at_reason: Reason | None = Field(
        default=None, description="why the signing is recorded with an earlier time (kept on the access log)"
    )
    expires_at: AwareDatetime | None = Field(default=None, description="after signed_at; null: no expiry")


class AgreementRevoke(RequestModel):
    reason: Reason


class AgreementRead(ResponseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    agreement_type: AgreementType
    version: str
    channel: SignChannel
    signed_at: datetime
    expires_at: datetime | None
    status: AgreementState = Field(description="expired: active but past expires_at")
    revoked_at: datetime | None
    revoke_reason: str | None
    superseded_by: uuid.UUID | None


class AgreementPage(Page[AgreementRead]):
    pass
