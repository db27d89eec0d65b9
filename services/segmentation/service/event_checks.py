"""The shape segmentation needs of each event it consumes (docs/events.md): the fields its handlers
read, with their types and column limits. Unknown fields are allowed (adding fields is compatible);
an event that fails its check is set aside (quarantine.py) instead of stalling the feed."""

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)

Text = Annotated[str, Field(max_length=16)]
Fen = Annotated[StrictInt, Field(ge=-(2**62), le=2**62)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")


class Registered(_Data):
    customer_no: Annotated[str, Field(max_length=20)] | None = None
    type: Literal["individual", "enterprise", "interbank"]
    region_type: Literal["urban", "rural", "peri_urban"] | None = None
    province: Annotated[str, Field(max_length=32)] | None = None
    city: Annotated[str, Field(max_length=64)] | None = None
    branch_code: Text | None = None
    status: Literal["active", "closed"] = "active"


class Updated(_Data):
    region_type: Literal["urban", "rural", "peri_urban"] | None = None
    province: Annotated[str, Field(max_length=32)] | None = None
    city: Annotated[str, Field(max_length=64)] | None = None
    branch_code: Text | None = None


class Transaction(_Data):
    kind: str
    customer_initiated: StrictBool | None = None
    amount_fen: Fen | None = None
    channel: str | None = None
    occurred_at: AwareDatetime | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    reverses_external_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _counted_needs_an_amount(self) -> "Transaction":
        if self.kind != "reversal" and self.customer_initiated and self.amount_fen is None:
            raise ValueError("a customer-initiated transaction needs amount_fen")
        return self


class Assets(_Data):
    as_of_date: date
    aum_fen: Fen


class Risk(_Data):
    level: Literal["C1", "C2", "C3", "C4", "C5"]
    expires_at: AwareDatetime


class Consent(_Data):
    purpose: str = "marketing"
    contactable_channels: list[str] | None = None
    do_not_contact: StrictBool = False


class Points(_Data):
    balance: Fen


class Survey(_Data):
    nps: Annotated[StrictInt, Field(ge=0, le=10)] | None = None
    responded_at: AwareDatetime | None = None


class Empty(_Data):
    pass


CHECKS: dict[str, type[_Data]] = {
    "customer.registered": Registered,
    "customer.updated": Updated,
    "customer.closed": Empty,
    "customer.erased": Empty,
    "transaction.recorded": Transaction,
    "assets.updated": Assets,
    "risk_assessment.completed": Risk,
    "consent.changed": Consent,
    "points.earned": Points,
    "points.redeemed": Points,
    "points.expired": Points,
    "survey.responded": Survey,
}


def problem_with(event_type: str, subject_id: object, data: object) -> str | None:
    """Why an event cannot be applied as it stands (field paths and messages, no values), or None."""
    if not isinstance(subject_id, str) or not 1 <= len(subject_id) <= 36:
        return "subject_id: must be a customer id of 1-36 characters"
    check = CHECKS.get(event_type, Empty)
    try:
        check.model_validate(data)
    except ValidationError as err:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in err.errors())
    return None
