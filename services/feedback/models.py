"""Feedback tables: the customer read model, JR/T 0169-2018 code lists (data), complaints with their
append-only steps, surveys (one row per version), responses (with their key table) and answers, both
partitioned by month on PostgreSQL, follow-up tasks, improvement actions, outbox, and who exported a
person's data (personal_data_access)."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlmodel import Field, SQLModel

from services.common.approvals import approval_table
from services.common.audit_chain import Mirror, audit_chain_table
from services.common.branches import branch_table
from services.common.consumer import consumer_cursor_table
from services.common.db import BigIntPK, UTCDateTime, service_registry, table_of, utcnow
from services.common.idempotency import idempotency_table
from services.common.jobs import job_run_table
from services.common.outbox import outbox_table
from services.common.partitions import monthly_partitions
from services.common.personal_data import personal_data_access_table


class Base(SQLModel, registry=service_registry()):
    """The feedback service's own base: its own metadata, its own Alembic history."""


metadata = Base.metadata

COMPLAINT_STATES = (
    "received",
    "acknowledged",
    "investigating",
    "decided",
    "closed",
    "withdrawn",
    "review_requested",
    "review_decided",
)
SURVEY_STATES = ("draft", "published")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CustomerRef(Base, table=True):
    """What feedback knows of a customer, from profile's feed: enough for audiences and breakdowns."""

    __tablename__ = "customer_ref"

    customer_id: str = Field(sa_column=Column(String(36), primary_key=True))
    customer_no: str | None = Field(default=None, sa_column=Column(String(12)))
    customer_type: str | None = Field(default=None, sa_column=Column(String(16)))
    region_type: str | None = Field(default=None, sa_column=Column(String(16)))
    branch_code: str | None = Field(default=None, sa_column=Column(String(16), index=True))
    status: str = Field(default="active", sa_column=Column(String(8), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CustomerSegment(Base, table=True):
    """The customer's current class per segmentation scheme, from segmentation's feed."""

    __tablename__ = "customer_segment"
    __table_args__ = (Index("ix_customer_segment_scheme_class", "scheme", "segment_class"),)

    customer_id: str = Field(sa_column=Column(String(36), primary_key=True))
    scheme: str = Field(sa_column=Column(String(80), primary_key=True))
    segment_class: str = Field(sa_column=Column(String(80), nullable=False))


class CodeEntry(Base, table=True):
    """JR/T 0169-2018 classification code lists (channel, business_type, cause), loaded by migration."""

    __tablename__ = "code_entry"

    list_name: str = Field(sa_column=Column(String(20), primary_key=True))
    code: str = Field(sa_column=Column(String(40), primary_key=True))
    label_zh: str = Field(sa_column=Column(String(60), nullable=False))
    label_en: str = Field(sa_column=Column(String(80), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))


class Complaint(Base, table=True):
    """Intake facts and the current state; deadlines are never stored here (see complaint_step)."""

    __tablename__ = "complaint"
    __table_args__ = (
        CheckConstraint(_in("state", COMPLAINT_STATES), name="state"),
        CheckConstraint("amount_fen IS NULL OR amount_fen >= 0", name="amount_fen"),
        Index("ix_complaint_state_received_at", "state", "received_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: str | None = Field(default=None, sa_column=Column(String(36), index=True))
    complainant_name_enc: str | None = Field(default=None, sa_column=Column(String(400)))
    complainant_contact_enc: str | None = Field(default=None, sa_column=Column(String(400)))
    channel: str = Field(sa_column=Column(String(40), nullable=False))
    business_type: str = Field(sa_column=Column(String(40), nullable=False))
    cause: str = Field(sa_column=Column(String(40), nullable=False))
    amount_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    description: str = Field(sa_column=Column(Text, nullable=False))
    branch_code: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    staff_complained_about: str | None = Field(default=None, sa_column=Column(String(100)))
    representative_enc: str | None = Field(default=None, sa_column=Column(String(1200)))  # agent or heir, JSON
    related_complaint_id: uuid.UUID | None = Field(default=None, foreign_key="complaint.id")
    handler_sub: str | None = Field(default=None, sa_column=Column(String(100)))
    state: str = Field(default="received", sa_column=Column(String(20), nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(sa_column=Column(String(100), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class ComplaintStep(Base, table=True):
    """Every step of a complaint, append-only: who, when, what, a note and the step's data."""

    __tablename__ = "complaint_step"
    __table_args__ = (Index("ix_complaint_step_complaint_id_id", "complaint_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    complaint_id: uuid.UUID = Field(foreign_key="complaint.id")
    action: str = Field(sa_column=Column(String(30), nullable=False))
    from_state: str = Field(sa_column=Column(String(20), nullable=False))
    to_state: str = Field(sa_column=Column(String(20), nullable=False))
    actor_sub: str = Field(sa_column=Column(String(100), nullable=False))
    actor_role: str = Field(sa_column=Column(String(16), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Survey(Base, table=True):
    """One version of a survey; a published version is never changed (edits make a new version)."""

    __tablename__ = "survey"
    __table_args__ = (
        CheckConstraint(_in("state", SURVEY_STATES), name="state"),
        CheckConstraint(_in("audience_kind", ("all", "branch", "segment")), name="audience_kind"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid(), primary_key=True))
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    state: str = Field(default="draft", sa_column=Column(String(10), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    questions: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    audience_kind: str = Field(sa_column=Column(String(10), nullable=False))
    audience_value: str | None = Field(default=None, sa_column=Column(String(120)))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    opens_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closes_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    allow_update: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_by: str = Field(sa_column=Column(String(100), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Counts every edit and publication of the survey across its versions: the ETag staff send back.
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class SurveyResponseKey(Base, table=True):
    """Every survey response's id, survey, customer and time, once: the identity and the one response per
    survey and customer that the responses, partitioned by month of responded_at on PostgreSQL, cannot
    keep themselves (a partitioned table's keys must hold the partition key). Written first, in the
    response's transaction; answers and follow-ups refer to this table, and a customer's earlier response
    is found here (one index lookup), then read in its month's partition alone."""

    __tablename__ = "survey_response_key"
    __table_args__ = (Index("ix_survey_response_key_survey_id_customer_id", "survey_id", "customer_id", unique=True),)

    id: uuid.UUID = Field(sa_column=Column(Uuid(), primary_key=True))
    survey_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False))
    customer_id: str = Field(sa_column=Column(String(36), nullable=False))
    responded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SurveyResponse(Base, table=True):
    """One customer's answers to a survey, with the first NPS/CSAT/CES answer and the customer's
    branch, region type and customer type copied in, so analysis is one scan with aggregates. Its id,
    and its uniqueness per survey and customer, are its SurveyResponseKey's; deleting the key deletes
    the response and its answers."""

    __tablename__ = "survey_response"
    __table_args__ = (
        Index("ix_survey_response_survey_id_customer_id", "survey_id", "customer_id"),
        monthly_partitions("responded_at"),
    )

    id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("survey_response_key.id", ondelete="CASCADE"), primary_key=True)
    )
    survey_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False))
    survey_version: int = Field(sa_column=Column(Integer, nullable=False))
    customer_id: str = Field(sa_column=Column(String(36), nullable=False))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    branch_code: str | None = Field(default=None, sa_column=Column(String(16)))
    region_type: str | None = Field(default=None, sa_column=Column(String(16)))
    customer_type: str | None = Field(default=None, sa_column=Column(String(16)))
    nps: int | None = Field(default=None, sa_column=Column(Integer))
    csat: int | None = Field(default=None, sa_column=Column(Integer))
    ces: int | None = Field(default=None, sa_column=Column(Integer))
    entered_by: str = Field(sa_column=Column(String(100), nullable=False))
    responded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, primary_key=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SurveyAnswer(Base, table=True):
    """One answer (one row per chosen option for multiple choice): distributions and drivers are
    GROUP BY over this table, partitioned by month of responded_at (its response's) on PostgreSQL like
    the responses. The primary key is (id, responded_at), so id is not SQLite's row number: the writer
    numbers the answers (service/responses.py)."""

    __tablename__ = "survey_answer"
    __table_args__ = (
        Index("ix_survey_answer_response_id", "response_id"),
        Index("ix_survey_answer_survey_id_question_id", "survey_id", "question_id"),
        monthly_partitions("responded_at"),
    )

    # Numbered by the table's sequence on PostgreSQL (its default), by the writer on SQLite.
    id: int = Field(sa_column=Column(BigIntPK, primary_key=True, autoincrement=False, server_default=FetchedValue()))
    response_id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("survey_response_key.id", ondelete="CASCADE"), nullable=False)
    )
    # Copied from the response so that distributions scan this table alone, without a join.
    survey_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False))
    responded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, primary_key=True))
    question_id: str = Field(sa_column=Column(String(40), nullable=False))
    value_int: int | None = Field(default=None, sa_column=Column(Integer))
    choice: str | None = Field(default=None, sa_column=Column(String(80)))
    text: str | None = Field(default=None, sa_column=Column(Text))


class FollowUp(Base, table=True):
    """A call-back task for a detractor answer, owned by the customer's branch."""

    __tablename__ = "follow_up"
    __table_args__ = (
        CheckConstraint(_in("status", ("open", "done")), name="status"),
        Index("ix_follow_up_branch_code_status", "branch_code", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    response_id: uuid.UUID = Field(foreign_key="survey_response_key.id")
    survey_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False))
    customer_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    branch_code: str | None = Field(default=None, sa_column=Column(String(16)))
    reason: str = Field(sa_column=Column(String(60), nullable=False))
    status: str = Field(default="open", sa_column=Column(String(8), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    outcome: str | None = Field(default=None, sa_column=Column(String(40)))
    note: str | None = Field(default=None, sa_column=Column(Text))
    completed_by: str | None = Field(default=None, sa_column=Column(String(100)))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class SurveyInvitation(Base, table=True):
    """An invitation to answer a survey, e.g. satisfaction with a complaint's handling at closing."""

    __tablename__ = "survey_invitation"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    survey_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False))
    customer_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    complaint_id: uuid.UUID | None = Field(default=None, foreign_key="complaint.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


IMPROVEMENT_STATES = ("open", "in_progress", "done", "cancelled")


class ImprovementAction(Base, table=True):
    """An improvement measure arising from what customers said: a survey driver, a frequent term or a
    complaint cause (`links`), with an owner, a branch (none: bank-wide), a due date and a status."""

    __tablename__ = "improvement_action"
    __table_args__ = (
        CheckConstraint(_in("status", IMPROVEMENT_STATES), name="status"),
        Index("ix_improvement_action_status_due_on", "status", "due_on"),
        Index("ix_improvement_action_branch_code_status", "branch_code", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    title: str = Field(sa_column=Column(String(200), nullable=False))
    plan: str | None = Field(default=None, sa_column=Column(Text))
    owner: str = Field(sa_column=Column(String(100), nullable=False))
    branch_code: str | None = Field(default=None, sa_column=Column(String(16)))
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    links: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", sa_column=Column(String(12), nullable=False))
    created_by: str = Field(sa_column=Column(String(100), nullable=False))
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    outcome: str | None = Field(default=None, sa_column=Column(Text))
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))


outbox = outbox_table(metadata)
# A copy of profile's organisation tree, kept from its feed (services.common.branches).
branch = branch_table(metadata)
idempotency = idempotency_table(metadata)
consumer_cursor = consumer_cursor_table(metadata)
job_run = job_run_table(metadata)
personal_data_access = personal_data_access_table(metadata)
audit_chain = audit_chain_table(metadata)
approval = approval_table(metadata)  # dual control: the second complaint extension (services.common.approvals)

# Every complaint step has its record in the audit chain; these columns never change once written (the
# note and the step's data hold free text that an erasure redacts, so they stay out of the chain)
COMPLAINT_STEPS = Mirror(
    table_of(ComplaintStep),
    "id",
    ("id", "complaint_id", "action", "from_state", "to_state", "actor_sub", "actor_role", "at"),
)
