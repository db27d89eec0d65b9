"""The field types every loyalty API model shares. Points are integers; money is a two-place decimal
string (CNY); times are RFC 3339 UTC."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field

from services.common.text import single_line

EarnKind = Literal["deposit", "withdrawal", "transfer", "bill_payment", "wealth_purchase", "loan_repayment"]
Channel = Literal["counter", "mobile", "atm", "online"]
RewardType = Literal["gift", "voucher", "ticket"]
Tier = Literal["standard", "silver", "gold", "platinum"]
EventCategory = Literal["appreciation", "lecture", "health_talk", "other"]
Trigger = Literal["manual", "mobile_first_login", "survey_responded", "event_attended"]
MAX_POINTS = 100_000_000


def _utc_in_range(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2200:
        raise ValueError("a time between the years 2000 and 2200")
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_utc_in_range), Field(description="RFC 3339 with a zone")]
Points = Annotated[int, Field(strict=True, ge=1, le=MAX_POINTS)]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(single_line)]
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,39}$", description="2-40 of a-z 0-9 _ -")]
Segment = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_.-]{1,60}(:[A-Za-z0-9_.-]{1,60}){1,2}$",
        max_length=200,
        description='a class of segmentation\'s catalogue (GET /v1/segments/classes), "scheme:class": '
        '"asset_size:major", or "rule:<segment id>:member" for a rule segment',
    ),
]
Money = Annotated[str, Field(pattern=r"^\d{1,13}\.\d{2}$", description='CNY with two places, "100.00"')]
Factor = Annotated[
    str, Field(pattern=r"^(0\.(0[1-9]|[1-9]\d?)|[1-9]\d?(\.\d{1,2})?)$", description='a multiplier, "0.01" to "99.99"')
]
BranchCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{4,16}$")]
