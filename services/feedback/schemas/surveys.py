"""Survey API models: a survey, its questions and audience, and the page of surveys."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from services.common.schema import RequestModel
from services.feedback.schemas.fields import BranchCode, Instant

QuestionType = Literal["nps", "csat", "ces", "single_choice", "multiple_choice", "free_text"]
SurveyChannel = Literal["app", "sms", "email", "phone", "branch", "web"]
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class Question(RequestModel):
    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    type: QuestionType
    text: str = Field(min_length=1, max_length=500)
    required: bool = True
    options: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(default=None, max_length=30)
    max_chars: int | None = Field(default=None, ge=1, le=10000, description="free text only")

    @model_validator(mode="after")
    def _shape(self):
        choice = self.type in ("single_choice", "multiple_choice")
        if choice and (not self.options or len(self.options) < 2 or len(set(self.options)) != len(self.options)):
            raise ValueError("a choice question needs at least two distinct options")
        if not choice and self.options is not None:
            raise ValueError("only choice questions have options")
        if self.type != "free_text" and self.max_chars is not None:
            raise ValueError("only free-text questions have max_chars")
        return self


class Audience(RequestModel):
    kind: Literal["all", "branch", "segment"] = "all"
    branch_code: BranchCode | None = None
    scheme: str | None = Field(default=None, min_length=1, max_length=60)
    segment_class: str | None = Field(default=None, min_length=1, max_length=60)

    @model_validator(mode="after")
    def _shape(self):
        need = {"all": (), "branch": ("branch_code",), "segment": ("scheme", "segment_class")}[self.kind]
        given = {f for f in ("branch_code", "scheme", "segment_class") if getattr(self, f) is not None}
        if given != set(need):
            raise ValueError(f"audience '{self.kind}' takes exactly: {', '.join(need) or 'nothing'}")
        return self


class SurveyCreate(RequestModel):
    title: str = Field(min_length=1, max_length=200)
    questions: list[Question] = Field(min_length=1, max_length=50)
    audience: Audience = Audience()
    channel: SurveyChannel
    opens_at: Instant
    closes_at: Instant
    allow_update: bool = False

    @model_validator(mode="after")
    def _check(self):
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids must be unique")
        return self


class SurveyRead(BaseModel):
    id: uuid.UUID
    version: int
    state: Literal["draft", "published"]
    title: str
    questions: list[dict[str, Any]]
    audience: dict[str, Any]
    channel: str
    opens_at: datetime
    closes_at: datetime
    allow_update: bool
    created_at: datetime
    published_at: datetime | None
    revision: int = Field(description="changes with every edit or publication; the ETag")


class SurveyPage(BaseModel):
    items: list[SurveyRead]
    next_cursor: str | None = None
