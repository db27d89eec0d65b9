"""Complaint API models: filing, every handling step, deadlines, the complaint as read, code lists."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from services.common.schema import RequestModel, ResponseModel
from services.feedback.schemas.fields import BranchCode, Code, ComplaintState, Instant, Money, Note, Reason, Sub


class Complainant(RequestModel):
    """A complainant who is not a customer; encrypted at rest, masked in responses."""

    name: str = Field(min_length=1, max_length=100)
    contact: str = Field(min_length=5, max_length=100, description="phone or postal address")


class Representative(RequestModel):
    kind: Literal["agent", "heir"]
    name: str = Field(min_length=1, max_length=100)
    proof_ref: str = Field(
        min_length=1, max_length=200, description="reference of the power of attorney or proof of succession"
    )


class ComplaintCreate(RequestModel):
    customer_id: uuid.UUID | None = None
    complainant: Complainant | None = None
    channel: Code
    business_type: Code
    cause: Code
    amount: Money | None = None
    description: str = Field(min_length=1, max_length=4000)
    branch_code: BranchCode
    staff_complained_about: Sub | None = None
    representative: Representative | None = None
    related_complaint_id: uuid.UUID | None = None
    received_at: Instant | None = Field(
        default=None, description="when it arrived (defaults to now; not in the future)"
    )

    @model_validator(mode="after")
    def _who(self):
        if (self.customer_id is None) == (self.complainant is None):
            raise ValueError("give exactly one of customer_id and complainant")
        return self


class Remedy(RequestModel):
    kinds: list[Literal["refund", "fee_waiver", "apology", "correction", "compensation", "none"]] = Field(
        min_length=1, max_length=6
    )
    refund_amount: Money | None = None
    description: str | None = Field(default=None, max_length=1000)


class Acknowledge(RequestModel):
    action: Literal["acknowledge"]
    note: Note


class Assign(RequestModel):
    action: Literal["assign"]
    handler_sub: Sub
    note: Note


class Investigate(RequestModel):
    action: Literal["investigate"]
    note: Note


class Extend(RequestModel):
    """First extension: to 30 days with a reason. Second: to 60 days, by a supervisor, with the
    notice to the complainant."""

    action: Literal["extend"]
    reason: Reason
    notice_sent_at: Instant | None = None
    note: Note


class Pause(RequestModel):
    action: Literal["pause"]
    reason: Literal["outside_appraisal", "testing"]
    notice_sent_at: Instant
    note: Note


class Resume(RequestModel):
    action: Literal["resume"]
    note: Note


class AddFacts(RequestModel):
    action: Literal["add_facts"]
    note: str = Field(min_length=2, max_length=2000, description="the new facts")


class Decide(RequestModel):
    action: Literal["decide"]
    facts_verified: str = Field(min_length=2, max_length=4000)
    basis: str = Field(min_length=2, max_length=2000)
    outcome: Literal["upheld", "partly_upheld", "rejected"]
    remedy: Remedy
    communicated_via: Literal["phone", "sms", "letter", "in_person", "app", "email"]
    communicated_at: Instant
    routes: list[Literal["review", "mediation", "arbitration", "litigation"]] = Field(min_length=1, max_length=4)
    note: Note


class Close(RequestModel):
    action: Literal["close"]
    note: Note


class Withdraw(RequestModel):
    action: Literal["withdraw"]
    note: Note


class RequestReview(RequestModel):
    action: Literal["request_review"]
    reason: Reason


class DecideReview(RequestModel):
    action: Literal["decide_review"]
    outcome: Literal["upheld", "partly_upheld", "rejected"]
    basis: str = Field(min_length=2, max_length=2000)
    unit: str = Field(min_length=1, max_length=100, description="the higher unit deciding the review")
    note: Note


class AddNote(RequestModel):
    action: Literal["note"]
    note: str = Field(min_length=1, max_length=2000)


StepCreate = Annotated[
    Acknowledge
    | Assign
    | Investigate
    | Extend
    | Pause
    | Resume
    | AddFacts
    | Decide
    | Close
    | Withdraw
    | RequestReview
    | DecideReview
    | AddNote,
    Field(discriminator="action"),
]


class StepRead(ResponseModel):
    id: int
    action: str
    from_state: str
    to_state: str
    actor_sub: str
    actor_role: str
    at: datetime
    note: str | None
    data: dict[str, Any]


class ExtensionRead(BaseModel):
    at: datetime
    to_days: int
    reason: str | None
    approved_by: str | None
    notice_sent_at: str | None
    counts: bool


class PauseRead(BaseModel):
    started_at: datetime
    ended_at: datetime | None
    reason: str | None
    notice_sent_at: str | None
    counts: bool


class DeadlineRead(BaseModel):
    clock_started_at: datetime
    limit_days: int
    due_at: datetime
    days_left: int | None
    paused_seconds: int
    is_paused: bool
    at_risk: bool
    overdue: bool
    stopped_at: datetime | None
    restarts: int
    extensions: list[ExtensionRead]
    pauses: list[PauseRead]
    review_request_due_at: datetime | None
    review_decision_due_at: datetime | None


class RepresentativeRead(BaseModel):
    kind: str
    name: str
    proof_ref: str


class ComplaintRead(BaseModel):
    id: uuid.UUID
    customer_id: str | None
    complainant_name: str | None = Field(description="masked")
    complainant_contact: str | None = Field(description="masked")
    channel: str
    business_type: str
    cause: str
    amount: str | None
    description: str
    branch_code: str
    staff_complained_about: str | None
    representative: RepresentativeRead | None
    related_complaint_id: uuid.UUID | None
    handler_sub: str | None
    state: ComplaintState
    received_at: datetime
    version: int
    allowed_actions: list[str]
    deadline: DeadlineRead
    decision: dict[str, Any] | None
    steps: list[StepRead]


class ComplaintSummary(BaseModel):
    id: uuid.UUID
    customer_id: str | None
    channel: str
    business_type: str
    cause: str
    branch_code: str
    handler_sub: str | None
    state: ComplaintState
    received_at: datetime
    due_at: datetime
    days_left: int | None
    at_risk: bool
    overdue: bool


class ComplaintPage(BaseModel):
    items: list[ComplaintSummary]
    next_cursor: str | None = None


class Escalations(BaseModel):
    at_risk: list[ComplaintSummary]
    overdue: list[ComplaintSummary]


class SweepResult(BaseModel):
    overdue: int
    newly_flagged: int


class CodeRead(BaseModel):
    code: str
    label_zh: str
    label_en: str


class CodeLists(BaseModel):
    channel: list[CodeRead]
    business_type: list[CodeRead]
    cause: list[CodeRead]
