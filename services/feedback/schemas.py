"""Feedback API models: complaints (intake, steps, deadlines), surveys, responses, follow-ups, analysis."""

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, StrictInt, StrictStr, model_validator

from services.common.schema import RequestModel, ResponseModel

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


# ---- complaints -----------------------------------------------------------------------------------


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


# ---- surveys ----------------------------------------------------------------------------------------

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


class FollowUpRead(ResponseModel):
    id: uuid.UUID
    response_id: uuid.UUID
    survey_id: uuid.UUID
    customer_id: str
    branch_code: str | None
    reason: str
    status: Literal["open", "done"]
    created_at: datetime
    due_at: datetime
    outcome: str | None
    note: str | None
    completed_by: str | None
    completed_at: datetime | None


class FollowUpPage(BaseModel):
    items: list[FollowUpRead]
    next_cursor: str | None = None


class FollowUpOutcome(RequestModel):
    outcome: Literal["reached_resolved", "reached_unresolved", "unreachable", "declined"]
    note: str | None = Field(default=None, max_length=2000)


# ---- analysis ---------------------------------------------------------------------------------------


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


# ---- complaint reports ------------------------------------------------------------------------------


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
