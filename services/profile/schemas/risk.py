"""Risk questionnaires, assessments and the suitability answer."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel

RiskLevel = Literal["C1", "C2", "C3", "C4", "C5"]
ProductRisk = Literal["R1", "R2", "R3", "R4", "R5"]
Key = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")]


class Option(ResponseModel):
    id: str
    text: str
    score: int


class Question(ResponseModel):
    id: str
    text: str
    options: list[Option]


class Band(ResponseModel):
    level: RiskLevel
    min_score: int
    max_score: int


class QuestionnaireRead(ResponseModel):
    id: str
    version: int
    customer_types: list[str]
    title: str
    questions: list[Question]
    bands: list[Band] = Field(description="inclusive score ranges giving the level")
    valid_months: int


class RiskAssessmentCreate(RequestModel):
    questionnaire_id: Key
    questionnaire_version: int = Field(ge=1, le=1000)
    answers: dict[Key, Key] = Field(max_length=50, description="question id -> option id, every question once")


class RiskAssessmentRead(ResponseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    questionnaire_id: str
    questionnaire_version: int
    answers: dict[str, str]
    score: int
    level: RiskLevel
    assessed_at: datetime
    expires_at: datetime
    status: Literal["current", "superseded", "expired"] = Field(description="at the time of reading")


class RiskAssessmentPage(Page[RiskAssessmentRead]):
    pass


class Suitability(ResponseModel):
    customer_id: uuid.UUID
    product_risk: ProductRisk
    suitable: bool
    reason: Literal["level_sufficient", "level_too_low", "no_valid_assessment"]
    detail: str
    customer_level: RiskLevel | None
    assessment_id: uuid.UUID | None
    assessment_expires_at: datetime | None
