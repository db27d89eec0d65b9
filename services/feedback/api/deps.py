"""Feedback's own dependencies shared by its routers: the complaint and survey contexts, the report and
analysis periods; the kit's aliases (services.common.access, services.common.deps) cover the rest."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from services.common.errors import InvalidInput
from services.feedback.schemas.fields import Instant
from services.feedback.service.complaints import ComplaintContext
from services.feedback.service.surveys import SurveyContext


async def _complaint_ctx(request: Request) -> ComplaintContext:
    ctx: ComplaintContext = request.app.state.complaints
    return ctx


async def _survey_ctx(request: Request) -> SurveyContext:
    ctx: SurveyContext = request.app.state.surveys
    return ctx


ComplaintCtx = Annotated[ComplaintContext, Depends(_complaint_ctx)]
SurveyCtx = Annotated[SurveyContext, Depends(_survey_ctx)]
From = Annotated[Instant | None, Query(alias="from", description="responses at or after (RFC 3339)")]
To = Annotated[Instant | None, Query(alias="to", description="responses before (RFC 3339)")]


def zoned(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The `from` and `to` bounds as given; 422 naming the one without a time zone."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput([{"loc": ["query", name], "msg": "a time zone is required", "type": "timezone"}])
    return start, end


def analysis_period(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The [from, to) period of an analysis; 422 naming the parameter without a zone or when empty."""
    start, end = zoned(start, end)
    if start is not None and end is not None and end <= start:
        raise InvalidInput([{"loc": ["query", "to"], "msg": "must be after from", "type": "period"}])
    return start, end
