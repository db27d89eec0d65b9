"""API types several profile aggregates share: money, short codes, plain text."""

from typing import Annotated

from pydantic import AfterValidator, Field

from services.common.money import str_to_fen
from services.common.text import single_line


def _positive_amount(value: str) -> str:
    if str_to_fen(value) <= 0:
        raise ValueError("the amount must be greater than zero")
    return value


Amount = Annotated[
    str,
    Field(pattern=r"^[0-9]{1,13}(\.[0-9]{1,2})?$", description='CNY, a decimal string such as "123.45"'),
    AfterValidator(_positive_amount),
]
NonNegativeAmount = Annotated[
    str, Field(pattern=r"^[0-9]{1,13}(\.[0-9]{1,2})?$", description='CNY, a decimal string such as "123.45"')
]
ShortText = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(single_line)]
Reason = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(single_line)]
Version = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,20}$", description="e.g. 2026.1")]
