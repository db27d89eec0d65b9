"""Loyalty tables: points accounts, the append-only ledger with its expiry lots and allocations,
earning rules and their versions, segments from the segmentation feed, rewards, redemptions,
customer events, activity bonuses, campaigns and their outreach with the copy of who may be reached,
and the kit's outbox, idempotency, consumer-cursor and personal-data access tables."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
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
    """The loyalty service's own base: its own metadata, its own Alembic history."""


metadata = Base.metadata

ACCOUNT_STATUSES = ("active", "frozen")
ENTRY_KINDS = ("earn", "redeem", "expire", "adjust", "reverse")
REWARD_TYPES = ("gift", "voucher", "ticket")
REDEMPTION_STATUSES = ("completed", "cancelled")
EVENT_CATEGORIES = ("appreciation", "lecture", "health_talk", "other")
EVENT_STATUSES = ("scheduled", "cancelled")
REGISTRATION_STATUSES = ("registered", "waitlisted", "cancelled", "attended")
CAMPAIGN_CHANNELS = ("sms", "app_push", "email", "phone_task")
CAMPAIGN_PURPOSES = ("marketing", "service")
CAMPAIGN_STATUSES = ("draft", "launched", "finished", "cancelled")
OUTREACH_STATES = ("queued", "sent", "delivered", "failed", "opened", "responded", "converted")
ACTIVITY_TRIGGERS = ("manual", "mobile_first_login", "survey_responded", "event_attended")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _points(nullable: bool = False) -> Any:
    return Column(BigInteger, nullable=nullable)


def _time(nullable: bool = False, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class PointsAccount(Base, table=True):
    """The stored balance is kept in step with the ledger in the same transaction; the CHECK is the
    last line of defence against a negative balance."""

    __tablename__ = "points_account"
    __table_args__ = (
        CheckConstraint(_in("status", ACCOUNT_STATUSES), name="status"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
    )

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    status: str = Field(default="active", sa_column=Column(String(8), nullable=False))
    balance: int = Field(default=0, sa_column=_points())
    lifetime_earned: int = Field(default=0, sa_column=_points())
    enrolled_via: str = Field(sa_column=Column(String(16), nullable=False))
    enrolled_at: datetime = Field(default_factory=utcnow, sa_column=_time())
    frozen_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    frozen_reason: str | None = Field(default=None, sa_column=Column(String(40)))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class LedgerEntryKey(Base, table=True):
    """Every ledger entry's id and dedupe key, once: the identity and the uniqueness the ledger, which is
    partitioned by month of occurred_at on PostgreSQL, cannot keep itself (a partitioned table's keys
    must hold the partition key). Written first, in the entry's transaction; what names an entry by id
    (lots, allocations, redemptions, registrations) refers to this table."""

    __tablename__ = "points_ledger_entry_key"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    # Makes an effect happen at most once (a transaction's earning, an activity instance...).
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(200), unique=True))


class LedgerEntry(Base, table=True):
    """Append-only: rows are inserted, never updated or deleted. `points` is signed. The id is its
    LedgerEntryKey's."""

    __tablename__ = "points_ledger_entry"
    __table_args__ = (
        CheckConstraint(_in("kind", ENTRY_KINDS), name="kind"),
        CheckConstraint("points <> 0", name="points_not_zero"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        Index("ix_points_ledger_entry_customer_id_id", "customer_id", "id"),
        Index("ix_points_ledger_entry_customer_id_rule_id_occurred_at", "customer_id", "rule_id", "occurred_at"),
        Index("ix_points_ledger_entry_customer_id_source_ref", "customer_id", "source_ref"),
        monthly_partitions("occurred_at"),
    )

    id: int = Field(sa_column=Column(BigIntPK, primary_key=True, autoincrement=False))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("points_account.customer_id"), nullable=False))
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    points: int = Field(sa_column=_points())
    balance_after: int = Field(sa_column=_points())
    source: str = Field(sa_column=Column(String(20), nullable=False))
    source_ref: str | None = Field(default=None, sa_column=Column(String(100)))
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(200)))  # unique in LedgerEntryKey
    rule_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    rule_version: int | None = Field(default=None, sa_column=Column(Integer))
    reason: str | None = Field(default=None, sa_column=Column(Text))  # sealed (service/ledger.py)
    actor_sub: str | None = Field(default=None, sa_column=Column(String(100)))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, primary_key=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class PointsLot(Base, table=True):
    """Points from one credit entry, consumed oldest expiry first; the sum of `remaining` over an
    account's lots always equals its balance."""

    __tablename__ = "points_lot"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        Index("ix_points_lot_customer_id_expires_at", "customer_id", "expires_at"),
    )

    id: int = Field(
        sa_column=Column(BigIntPK, ForeignKey("points_ledger_entry_key.id"), primary_key=True, autoincrement=False)
    )
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    points: int = Field(sa_column=_points())
    remaining: int = Field(sa_column=_points())
    expires_at: datetime = Field(sa_column=_time(index=True))


class PointsAllocation(Base, table=True):
    """Which lots a debit took its points from, so a cancelled redemption gives back exactly those."""

    __tablename__ = "points_allocation"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    entry_id: int = Field(
        sa_column=Column(BigIntPK, ForeignKey("points_ledger_entry_key.id"), nullable=False, index=True)
    )
    lot_id: int = Field(sa_column=Column(BigIntPK, ForeignKey("points_lot.id"), nullable=False, index=True))
    points: int = Field(sa_column=_points())


class CustomerSegment(Base, table=True):
    """The customer's current class per segment scheme, from segment.changed."""

    __tablename__ = "customer_segment"
    __table_args__ = (Index("ix_customer_segment_scheme_class_name", "scheme", "class_name"),)

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    scheme: str = Field(sa_column=Column(String(100), primary_key=True))
    class_name: str = Field(sa_column=Column(String(100), nullable=False))
    changed_at: datetime = Field(sa_column=_time())


class EarningRule(Base, table=True):
    __tablename__ = "earning_rule"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(Uuid, primary_key=True))
    code: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    retired_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class EarningRuleVersion(Base, table=True):
    """One version of a rule, in force from valid_from until valid_until (exclusive, null = open)."""

    __tablename__ = "earning_rule_version"
    __table_args__ = (
        Index("ix_earning_rule_version_rule_id_version", "rule_id", "version", unique=True),
        CheckConstraint("points_per_100_cny >= 0", name="rate_not_negative"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    rule_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("earning_rule.id"), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    channel: str | None = Field(default=None, sa_column=Column(String(10)))
    points_per_100_cny: int = Field(sa_column=Column(Integer, nullable=False))
    min_amount_fen: int = Field(default=0, sa_column=_points())
    daily_cap: int | None = Field(default=None, sa_column=_points(nullable=True))
    monthly_cap: int | None = Field(default=None, sa_column=_points(nullable=True))
    multipliers: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    valid_from: datetime = Field(sa_column=_time())
    valid_until: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    actor_sub: str = Field(sa_column=Column(String(100), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class Reward(Base, table=True):
    __tablename__ = "reward"
    __table_args__ = (
        CheckConstraint(_in("type", REWARD_TYPES), name="type"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(Uuid, primary_key=True))
    code: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    type: str = Field(sa_column=Column(String(8), nullable=False))
    points_price: int = Field(sa_column=_points())
    stock: int | None = Field(default=None, sa_column=_points(nullable=True))
    voucher_valid_days: int | None = Field(default=None, sa_column=Column(Integer))
    eligible_segments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    eligible_tiers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active_from: datetime = Field(sa_column=_time())
    active_until: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    per_customer_limit: int | None = Field(default=None, sa_column=Column(Integer))
    cancel_window_hours: int = Field(default=24, sa_column=Column(Integer, nullable=False))
    is_retired: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class Redemption(Base, table=True):
    __tablename__ = "redemption"
    __table_args__ = (
        CheckConstraint(_in("status", REDEMPTION_STATUSES), name="status"),
        Index("ix_redemption_customer_id_reward_id", "customer_id", "reward_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(Uuid, primary_key=True))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("points_account.customer_id"), nullable=False))
    reward_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("reward.id"), nullable=False))
    quantity: int = Field(sa_column=Column(Integer, nullable=False))
    points: int = Field(sa_column=_points())
    status: str = Field(default="completed", sa_column=Column(String(10), nullable=False))
    entry_id: int = Field(sa_column=Column(BigIntPK, ForeignKey("points_ledger_entry_key.id"), nullable=False))
    voucher_code: str | None = Field(default=None, sa_column=Column(String(20), unique=True))
    voucher_valid_until: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    voucher_used_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    cancel_until: datetime = Field(sa_column=_time())
    cancelled_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class CustomerEvent(Base, table=True):
    __tablename__ = "customer_event"
    __table_args__ = (
        CheckConstraint(_in("category", EVENT_CATEGORIES), name="category"),
        CheckConstraint(_in("status", EVENT_STATUSES), name="status"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        Index("ix_customer_event_branch_code_starts_at", "branch_code", "starts_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(Uuid, primary_key=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    category: str = Field(sa_column=Column(String(16), nullable=False))
    branch_code: str = Field(sa_column=Column(String(16), nullable=False))
    starts_at: datetime = Field(sa_column=_time())
    ends_at: datetime = Field(sa_column=_time())
    capacity: int = Field(sa_column=Column(Integer, nullable=False))
    target_segments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    points_price: int = Field(default=0, sa_column=_points())
    attendance_points: int = Field(default=0, sa_column=_points())
    status: str = Field(default="scheduled", sa_column=Column(String(10), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class EventRegistration(Base, table=True):
    __tablename__ = "event_registration"
    __table_args__ = (
        CheckConstraint(_in("status", REGISTRATION_STATUSES), name="status"),
        Index("ix_event_registration_event_id_customer_id", "event_id", "customer_id", unique=True),
        Index("ix_event_registration_customer_id", "customer_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(Uuid, primary_key=True))
    event_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("customer_event.id"), nullable=False))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    status: str = Field(sa_column=Column(String(10), nullable=False))
    # Place in the event's queue (registration order); the waitlist is served lowest first.
    queue_no: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    queued_at: datetime = Field(default_factory=utcnow, sa_column=_time())
    checked_in_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    charge_entry_id: int | None = Field(
        default=None, sa_column=Column(BigIntPK, ForeignKey("points_ledger_entry_key.id"))
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class Activity(Base, table=True):
    """A configurable bonus: awarded at most once per activity instance (or once ever, if not repeatable)."""

    __tablename__ = "activity"
    __table_args__ = (CheckConstraint(_in("trigger", ACTIVITY_TRIGGERS), name="trigger"),)

    code: str = Field(sa_column=Column(String(40), primary_key=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    points: int = Field(sa_column=_points())
    trigger: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    is_repeatable: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    is_retired: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class CustomerBranch(Base, table=True):
    """Each customer's branch, copied from profile's customer.registered and customer.updated: what
    branch scope checks a staff member's reach against (services.loyalty.service.branch_scope). Kept
    after an erasure: a branch code is no personal data, and the retained ledger stays scoped."""

    __tablename__ = "customer_branch"

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    branch_code: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time())


NOTIFICATION_KINDS = (
    "complaint_status",
    "survey_invitation",
    "points_expiring",
    "event_reminder",
    "campaign",
    "birthday",
    "deposit_maturity",
    "risk_expiry",
    "agreement_renewal",
)
PUSH_STATES = ("none", "pending", "sent")
CARE_KINDS = ("birthday", "deposit_maturity", "risk_expiry", "agreement_renewal", "points_expiring", "dormant")
TASK_STATUSES = ("open", "completed", "dismissed")


class CareCustomer(Base, table=True):
    """What care needs to know of a customer, from profile's feed: the branch, the relationship manager,
    and whether an app push may reach them now (`app_push` among consent.changed's contactable channels)."""

    __tablename__ = "care_customer"

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    branch_code: str | None = Field(default=None, sa_column=Column(String(16)))
    manager_id: str | None = Field(default=None, sa_column=Column(String(100), index=True))
    manager_branch_code: str | None = Field(default=None, sa_column=Column(String(16)))
    has_app_push: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class Notification(Base, table=True):
    """A message in a customer's inbox; `dedupe_key` names its occasion, so none is made twice.
    `push_state` is pending when the customer could be pushed to as it was made (none otherwise)."""

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTIFICATION_KINDS), name="kind"),
        CheckConstraint(_in("push_state", PUSH_STATES), name="push_state"),
        Index("ix_notification_customer_id_id", "customer_id", "id"),
        Index("ix_notification_push_state_id", "push_state", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    dedupe_key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    title: str = Field(sa_column=Column(String(100), nullable=False))
    body: str = Field(sa_column=Column(String(500), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    push_state: str = Field(default="none", sa_column=Column(String(8), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())
    read_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class CareTask(Base, table=True):
    """A reminder for the customer's relationship manager; `occasion_key` makes one per occasion.
    Open tasks follow the customer to a new manager."""

    __tablename__ = "care_task"
    __table_args__ = (
        CheckConstraint(_in("kind", CARE_KINDS), name="kind"),
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        Index("ix_care_task_manager_id_status_due_at", "manager_id", "status", "due_at"),
        Index("ix_care_task_branch_code_status_due_at", "branch_code", "status", "due_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(Uuid, primary_key=True))
    occasion_key: str = Field(sa_column=Column(String(160), nullable=False, unique=True))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    reference: str | None = Field(default=None, sa_column=Column(String(64)))
    manager_id: str | None = Field(default=None, sa_column=Column(String(100)))
    branch_code: str | None = Field(default=None, sa_column=Column(String(16)))
    due_at: datetime = Field(sa_column=_time())
    status: str = Field(default="open", sa_column=Column(String(10), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(500)))
    closed_by: str | None = Field(default=None, sa_column=Column(String(100)))
    closed_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class Campaign(Base, table=True):
    """A message to an audience (a segment class) over one channel; launched once, when a supervisor
    approves it. `funnel` holds the counts left after each filter at launch."""

    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint(_in("channel", CAMPAIGN_CHANNELS), name="channel"),
        CheckConstraint(_in("purpose", CAMPAIGN_PURPOSES), name="purpose"),
        CheckConstraint(_in("status", CAMPAIGN_STATUSES), name="status"),
        Index("ix_campaign_branch_code_created_at", "branch_code", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(Uuid, primary_key=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    audience: str = Field(sa_column=Column(String(140), nullable=False))  # "scheme:class" of the class catalogue
    channel: str = Field(sa_column=Column(String(12), nullable=False))
    purpose: str = Field(sa_column=Column(String(10), nullable=False))
    template: str = Field(sa_column=Column(String(500), nullable=False))
    product_code: str | None = Field(default=None, sa_column=Column(String(40)))
    attribution_days: int = Field(sa_column=Column(Integer, nullable=False))
    send_from: datetime = Field(sa_column=_time())
    send_until: datetime = Field(sa_column=_time())
    quiet_start: str = Field(sa_column=Column(String(5), nullable=False))  # local HH:MM; start == end: none
    quiet_end: str = Field(sa_column=Column(String(5), nullable=False))
    branch_code: str | None = Field(default=None, sa_column=Column(String(32)))  # None: the whole bank
    status: str = Field(default="draft", sa_column=Column(String(10), nullable=False))
    funnel: dict[str, int] | None = Field(default=None, sa_column=Column(JSON))
    created_by: str = Field(sa_column=Column(String(100), nullable=False))
    launched_by: str | None = Field(default=None, sa_column=Column(String(100)))
    launched_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time())


class Outreach(Base, table=True):
    """One per customer and campaign. State moves forward only (queued, sent, delivered, opened,
    responded, converted; or failed); a sender claims a row (claim_token) before sending it."""

    __tablename__ = "outreach"
    __table_args__ = (
        CheckConstraint(_in("state", OUTREACH_STATES), name="state"),
        Index("uq_outreach_campaign_id_customer_id", "campaign_id", "customer_id", unique=True),
        Index("ix_outreach_state_channel_next_attempt_at", "state", "channel", "next_attempt_at"),
        Index("ix_outreach_customer_id_purpose_queued_at", "customer_id", "purpose", "queued_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    campaign_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("campaign.id"), nullable=False))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    channel: str = Field(sa_column=Column(String(12), nullable=False))
    purpose: str = Field(sa_column=Column(String(10), nullable=False))
    state: str = Field(default="queued", sa_column=Column(String(10), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=_time())
    claim_token: str | None = Field(default=None, sa_column=Column(String(36)))
    claimed_at: datetime | None = Field(default=None, sa_column=_time(nullable=True, index=True))
    provider_ref: str | None = Field(default=None, sa_column=Column(String(100), index=True))
    failure_reason: str | None = Field(default=None, sa_column=Column(String(40)))
    queued_at: datetime = Field(sa_column=_time())
    sent_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    opened_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    responded_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    converted_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    updated_at: datetime = Field(sa_column=_time())


class CustomerReach(Base, table=True):
    """Profile's word on reaching a customer (customer.registered/updated, consent.changed): the branch,
    the do-not-contact flag, and per channel whether marketing may use it (consent, a contact point,
    no flag) and whether it reaches the customer at all (a contact point)."""

    __tablename__ = "customer_reach"

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    branch_code: str | None = Field(default=None, sa_column=Column(String(32), index=True))
    is_active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    do_not_contact: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    marketing_channels: str = Field(default="", sa_column=Column(String(60), nullable=False))  # ",sms,email,"
    reachable_channels: str = Field(default="", sa_column=Column(String(60), nullable=False))
    changed_at: datetime = Field(sa_column=_time())


outbox = outbox_table(metadata)
# A copy of profile's organisation tree, kept from its feed (services.common.branches).
branch = branch_table(metadata)
idempotency = idempotency_table(metadata)
consumer_cursor = consumer_cursor_table(metadata)
job_run = job_run_table(metadata)
personal_data_access = personal_data_access_table(metadata)
approval = approval_table(metadata)
audit_chain = audit_chain_table(metadata)

# Each staff adjustment of points (kind "adjust") has its record in the audit chain; the reason is free
# text that an erasure clears, so it stays out of the chain
ADJUSTMENTS = Mirror(
    table_of(LedgerEntry),
    "id",
    ("id", "customer_id", "kind", "points", "balance_after", "source", "actor_sub"),
    where=table_of(LedgerEntry).c.kind == "adjust",
)
