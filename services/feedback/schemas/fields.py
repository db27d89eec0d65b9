"""Field types the feedback API models share: money, codes, notes, RFC 3339 instants, complaint states."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field

Money = Annotated[str, Field(pattern=r"^\d{1,13}(\.\d{1,2})?$", description='CNY, e.g. "120.50"')]
BranchCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{4,16}$")]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z_]+$")]
Note = Annotated[str | None, Field(default=None, max_length=2000)]
Reason = Annotated[str, Field(min_length=2, max_length=500)]
Sub = Annotated[str, Field(min_length=1, max_length=100)]


# RFC 3339 with a time zone, as a string: a bare number is not a time.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("an RFC 3339 date-time string with a time zone is required")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
ComplaintState = Literal[
    "received", "acknowledged", "investigating", "decided", "closed", "withdrawn", "review_requested", "review_decided"
]
