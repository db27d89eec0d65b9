"""Survey analysis models: NPS, CSAT and CES with sample sizes, distributions, breakdowns, drivers, terms."""

import uuid

from pydantic import BaseModel, Field


class Score(BaseModel):
    value: float | None = Field(description="NPS in points (-100..100), CSAT in % (0..100), CES mean (1..7)")
    n: int = Field(description="sample size")
    small_sample: bool


class Scores(BaseModel):
    responses: int
    nps: Score
    csat: Score
    ces: Score


class DistributionItem(BaseModel):
    answer: str
    count: int


class QuestionDistribution(BaseModel):
    question_id: str
    type: str
    n: int
    items: list[DistributionItem]


class SurveyAnalysis(Scores):
    survey_id: uuid.UUID
    audience_size: int
    response_rate: float | None = Field(description="responses / audience size, 0..1; null without an audience")
    distributions: list[QuestionDistribution]


class BreakdownRow(Scores):
    dimension: str = Field(description="what `group` is a value of (useful with by=all)")
    group: str | None


class Breakdown(BaseModel):
    survey_id: uuid.UUID
    by: str
    rows: list[BreakdownRow]


class DriverRow(BaseModel):
    question_id: str
    answer: str
    n: int
    mean_nps: float | None
    detractor_share: float | None


class Drivers(BaseModel):
    survey_id: uuid.UUID
    rows: list[DriverRow]


class Term(BaseModel):
    term: str
    count: int


class Terms(BaseModel):
    survey_id: uuid.UUID
    documents: int
    terms: list[Term]
