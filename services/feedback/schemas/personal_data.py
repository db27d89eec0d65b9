"""Feedback's part of a person's data export: complaints in full, survey responses with every answer,
follow-ups, survey invitations, and who exported the person's data before."""

import uuid
from datetime import datetime

from pydantic import Field

from services.common.personal_data import AccessRecord
from services.common.schema import ResponseModel
from services.feedback.schemas.complaints import ComplaintRead
from services.feedback.schemas.follow_ups import FollowUpRead


class ExportedComplaint(ComplaintRead):
    """A complaint with every step, the complainant's and representative's values in full."""

    complainant_name: str | None = Field(description="in full: the person's own copy")
    complainant_contact: str | None = Field(description="in full: the person's own copy")


class ExportedAnswer(ResponseModel):
    question_id: str
    value_int: int | None
    choice: str | None
    text: str | None


class ExportedResponse(ResponseModel):
    id: uuid.UUID
    survey_id: uuid.UUID
    survey_version: int
    channel: str
    nps: int | None
    csat: int | None
    ces: int | None
    entered_by: str
    responded_at: datetime
    updated_at: datetime
    answers: list[ExportedAnswer] = Field(description="one item per answer (per chosen option for multiple choice)")


class ExportedInvitation(ResponseModel):
    survey_id: uuid.UUID
    complaint_id: uuid.UUID | None
    created_at: datetime


class FeedbackPersonalData(ResponseModel):
    complaints: list[ExportedComplaint]
    survey_responses: list[ExportedResponse]
    follow_ups: list[FollowUpRead]
    survey_invitations: list[ExportedInvitation]
    access_log: list[AccessRecord]
