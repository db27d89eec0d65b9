"""Survey response API models: an answer set, the response as read, and a customer's response scores."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, StrictStr

from services.common.schema import RequestModel
from services.feedback.schemas.surveys import SurveyChannel


class ResponseScores(BaseModel):
    """One response's scores, without its answers: what a customer overview shows."""

    response_id: uuid.UUID
    survey_id: uuid.UUID
    survey_version: int
    channel: str
    nps: int | None
    csat: int | None
    ces: int | None
    responded_at: datetime


class ResponseScoresPage(BaseModel):
    items: list[ResponseScores]
    next_cursor: str | None = None


AnswerValue = StrictInt | StrictStr | list[StrictStr]


class ResponseCreate(RequestModel):
    customer_id: uuid.UUID | None = Field(default=None, description="staff entering a response for a customer")
    channel: SurveyChannel | None = Field(default=None, description="defaults to the survey's channel")
    answers: dict[Annotated[str, Field(max_length=40)], AnswerValue] = Field(max_length=50)


class ResponseRead(BaseModel):
    id: uuid.UUID
    survey_id: uuid.UUID
    survey_version: int
    customer_id: str
    channel: str
    answers: dict[str, AnswerValue]
    nps: int | None
    csat: int | None
    ces: int | None
    entered_by: str
    responded_at: datetime
    updated_at: datetime
    follow_up_id: uuid.UUID | None
