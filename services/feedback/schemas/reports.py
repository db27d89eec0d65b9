"""Complaint report models: counts by code, branch causes, age bands, handling satisfaction."""

from datetime import datetime

from pydantic import BaseModel, Field

from services.feedback.schemas.analysis import Score


class CountRow(BaseModel):
    month: str
    code: str
    count: int


class CodeCount(BaseModel):
    code: str
    count: int


class BranchCauses(BaseModel):
    branch_code: str
    causes: list[CodeCount]


class AgeBand(BaseModel):
    band: str = Field(description="age since receipt in days, e.g. '0-7'")
    count: int


class HandlingSatisfaction(BaseModel):
    responses: int
    csat: Score
    nps: Score


class ComplaintReport(BaseModel):
    period_from: datetime | None
    period_to: datetime | None
    received: int
    open_by_age: list[AgeBand]
    at_risk: int
    overdue: int
    by_channel: list[CountRow]
    by_business_type: list[CountRow]
    by_cause: list[CountRow]
    decided: int
    median_days_to_decision: float | None
    share_decided_within_15_days: float | None
    handling_satisfaction: HandlingSatisfaction
    top_causes_by_branch: list[BranchCauses]
