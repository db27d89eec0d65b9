"""Improvement action API models: what an action answers (links to a complaint cause, a survey driver or a
frequent term), its owner, branch, due date and status, the change of one, its measured effect and the
report of open and overdue actions."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.common.schema import RequestModel, ResponseModel
from services.feedback.schemas.analysis import Score
from services.feedback.schemas.fields import BranchCode, Code, Sub

ImprovementStatus = Literal["open", "in_progress", "done", "cancelled"]
Title = Annotated[str, Field(min_length=2, max_length=200)]
Plan = Annotated[str | None, Field(default=None, max_length=2000)]
QuestionId = Annotated[str, Field(min_length=1, max_length=40)]


class CauseLink(RequestModel):
    """Complaints of this cause (a code of the cause list, /v1/complaints/codes)."""

    kind: Literal["complaint_cause"]
    cause: Code


class DriverLink(RequestModel):
    """An answer to a closed question that goes with low NPS (/v1/surveys/{id}/drivers)."""

    kind: Literal["survey_driver"]
    survey_id: uuid.UUID
    question_id: QuestionId
    answer: Annotated[str, Field(min_length=1, max_length=80)]


class TermLink(RequestModel):
    """A term frequent in a survey's free-text answers (/v1/surveys/{id}/terms)."""

    kind: Literal["survey_term"]
    survey_id: uuid.UUID
    term: Annotated[str, Field(min_length=1, max_length=40)]


Link = Annotated[CauseLink | DriverLink | TermLink, Field(discriminator="kind")]


class ImprovementCreate(RequestModel):
    title: Title
    plan: Plan
    owner: Sub = Field(description="The staff member (token subject) who answers for the action")
    branch_code: BranchCode | None = Field(default=None, description="The branch it improves; none: bank-wide")
    due_on: date
    links: list[Link] = Field(min_length=1, max_length=20)


class ImprovementChange(RequestModel):
    """Only what is sent changes. `status` moves open → in_progress → done, or to cancelled; `outcome`
    says what was done (required for done and cancelled)."""

    title: Title | None = None
    plan: Plan = None
    owner: Sub | None = None
    due_on: date | None = None
    status: ImprovementStatus | None = None
    outcome: Annotated[str | None, Field(default=None, max_length=2000)] = None


class ImprovementRead(ResponseModel):
    id: uuid.UUID
    title: str
    plan: str | None
    owner: str
    branch_code: str | None
    due_on: date
    links: list[Link]
    status: ImprovementStatus
    overdue: bool = Field(description="Open or in progress and past its due date")
    created_by: str
    opened_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    outcome: str | None


class ImprovementPage(BaseModel):
    items: list[ImprovementRead]
    next_cursor: str | None = None


class Window(BaseModel):
    start: datetime
    end: datetime
    days: float


class CauseEffect(BaseModel):
    cause: str
    before: int
    after: int
    before_per_30_days: float | None
    after_per_30_days: float | None


class NpsEffect(BaseModel):
    survey_id: uuid.UUID | None = Field(description="None: every survey's responses")
    before: Score
    after: Score


class ImprovementEffect(BaseModel):
    """Complaint counts for each linked cause and NPS of the linked surveys, in the action's branch (all
    branches for a bank-wide action), in equal windows before it was opened and after it was finished
    (after it was opened while it is not finished), the after window cut at now."""

    action_id: uuid.UUID
    branch_code: str | None
    before: Window
    after: Window
    complaints: list[CauseEffect]
    nps: list[NpsEffect]


class BranchCount(BaseModel):
    branch_code: str | None
    open: int
    overdue: int


class ImprovementReport(BaseModel):
    as_of: datetime
    by_status: dict[str, int]
    overdue: int
    by_branch: list[BranchCount]
    overdue_actions: list[ImprovementRead] = Field(description="The longest overdue first, at most 100")
