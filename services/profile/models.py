"""Profile tables: customers (personal data encrypted, keyed hashes for lookup), the audit of
personal-data reads and overrides, the customer-number counter, contacts and consent, risk
assessments, service agreements, the interaction log, transactions and asset snapshots, stated needs and
holdings, the migration batch's customer imports, erasure requests, the organisation tree (branch), outbox and
idempotency records."""

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlmodel import Field, SQLModel

from services.common.approvals import approval_table
from services.common.audit_chain import Mirror, audit_chain_table
from services.common.branches import branch_table
from services.common.db import BigIntPK, UTCDateTime, service_registry, table_of, utcnow
from services.common.idempotency import idempotency_table
from services.common.jobs import job_run_table
from services.common.outbox import outbox_table
from services.common.partitions import monthly_partitions


class Base(SQLModel, registry=service_registry()):
    """The profile service's own base: its own metadata, its own Alembic history."""


metadata = Base.metadata

CUSTOMER_TYPES = ("individual", "enterprise", "interbank")
REGION_TYPES = ("urban", "rural", "peri_urban")
STATUSES = ("active", "closed")
# An organisation's credit code, or one of an individual's documents (service/documents.py).
ID_TYPES = (
    "resident_id",
    "credit_code",
    "passport",
    "residence_permit",
    "hk_macao_permit",
    "taiwan_permit",
    "foreign_permanent_id",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Customer(Base, table=True):
    __tablename__ = "customer"
    __table_args__ = (
        CheckConstraint(_in("type", CUSTOMER_TYPES), name="type"),
        CheckConstraint(_in("region_type", REGION_TYPES), name="region_type"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("id_type", ID_TYPES), name="id_type"),
        Index("ix_customer_branch_code_customer_no", "branch_code", "customer_no"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_no: str = Field(sa_column=Column(String(12), nullable=False, unique=True))
    type: str = Field(sa_column=Column(String(16), nullable=False))
    name: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    id_type: str = Field(sa_column=Column(String(24), nullable=False))
    id_number_enc: str = Field(sa_column=Column(String(200), nullable=False))
    # Keyed hash of the type and the number's identity part (service/customers.py: id_lookup_hash).
    id_number_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    id_country: str | None = Field(default=None, sa_column=Column(String(3)))  # a passport's issuing state
    id_check_override_reason: str | None = Field(default=None, sa_column=Column(Text))  # sealed
    phone_enc: str = Field(sa_column=Column(String(200), nullable=False))
    phone_hash: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    email_enc: str | None = Field(default=None, sa_column=Column(String(500)))
    contact_name: str | None = Field(default=None, sa_column=Column(String(100)))
    region_type: str = Field(sa_column=Column(String(16), nullable=False))
    province: str = Field(sa_column=Column(String(32), nullable=False))
    city: str = Field(sa_column=Column(String(64), nullable=False))
    branch_code: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(default="active", sa_column=Column(String(8), nullable=False, index=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Month and day of birth as MMDD, from a resident ID at registration (null for other documents and for
    # customers registered before it was kept): the birthday reminder reads it, never the encrypted number.
    birth_md: int | None = Field(default=None, sa_column=Column(Integer, index=True))


class AuditEntry(Base, table=True):
    """Who read full personal data or overrode an identity check, when and why; append-only."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    action: str = Field(sa_column=Column(String(40), nullable=False))
    actor_sub: str = Field(sa_column=Column(String(100), nullable=False))
    actor_role: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))  # sealed (service/reasons.py)
    fields: str = Field(sa_column=Column(String(200), nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(String(128)))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Counter(Base, table=True):
    """Named monotonic counters (customer_no); the row lock serialises concurrent takers."""

    __tablename__ = "counter"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    value: int = Field(sa_column=Column(BigIntPK, nullable=False))


CONTACT_KINDS = ("mobile", "landline", "email", "postal_address", "app_push")
CONSENT_CHANNELS = ("sms", "phone_call", "email", "app_push")
CONSENT_STATUSES = ("granted", "withdrawn")
RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
AGREEMENT_STATUSES = ("active", "superseded", "revoked")
INTERACTION_CHANNELS = ("counter", "phone", "sms", "email", "app", "visit")
TRANSACTION_KINDS = (
    "deposit",
    "withdrawal",
    "transfer",
    "bill_payment",
    "wealth_purchase",
    "loan_repayment",
    "reversal",
)
TRANSACTION_CHANNELS = ("counter", "mobile", "atm", "online")


def _customer_fk() -> Column:
    return Column(Uuid(), ForeignKey("customer.id"), nullable=False)


class ContactPoint(Base, table=True):
    """A way to reach the customer; the value is personal data, encrypted like the customer's phone."""

    __tablename__ = "contact_point"
    __table_args__ = (CheckConstraint(_in("kind", CONTACT_KINDS), name="kind"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    value_enc: str = Field(sa_column=Column(String(800), nullable=False))
    is_preferred: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


Index("ix_contact_point_customer_id", table_of(ContactPoint).c.customer_id)


class ConsentRecord(Base, table=True):
    """Append-only marketing-consent history: the newest record per channel is the current state."""

    __tablename__ = "consent_record"
    __table_args__ = (
        CheckConstraint(_in("channel", CONSENT_CHANNELS), name="channel"),
        CheckConstraint(_in("status", CONSENT_STATUSES), name="status"),
        Index("ix_consent_record_customer_id_id", "customer_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    purpose: str = Field(sa_column=Column(String(16), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    given_via: str = Field(sa_column=Column(String(16), nullable=False))
    policy_version: str = Field(sa_column=Column(String(20), nullable=False))
    actor_sub: str = Field(sa_column=Column(String(100), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DoNotContactRecord(Base, table=True):
    """Append-only history of the do-not-contact flag, which overrides every consent."""

    __tablename__ = "do_not_contact_record"
    __table_args__ = (Index("ix_do_not_contact_record_customer_id_id", "customer_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    do_not_contact: bool = Field(sa_column=Column(Boolean, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))  # sealed (service/reasons.py)
    actor_sub: str = Field(sa_column=Column(String(100), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RiskAssessment(Base, table=True):
    __tablename__ = "risk_assessment"
    __table_args__ = (
        CheckConstraint(_in("level", RISK_LEVELS), name="level"),
        Index("ix_risk_assessment_customer_id_assessed_at", "customer_id", "assessed_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    questionnaire_id: str = Field(sa_column=Column(String(40), nullable=False))
    questionnaire_version: int = Field(sa_column=Column(Integer, nullable=False))
    answers: dict = Field(sa_column=Column(JSON, nullable=False))
    score: int = Field(sa_column=Column(Integer, nullable=False))
    level: str = Field(sa_column=Column(String(2), nullable=False))
    assessed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor_sub: str = Field(sa_column=Column(String(100), nullable=False))


class Agreement(Base, table=True):
    __tablename__ = "agreement"
    __table_args__ = (
        CheckConstraint(_in("status", AGREEMENT_STATUSES), name="status"),
        Index("ix_agreement_customer_id_agreement_type", "customer_id", "agreement_type"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    agreement_type: str = Field(sa_column=Column(String(32), nullable=False))
    version: str = Field(sa_column=Column(String(20), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    signed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    status: str = Field(default="active", sa_column=Column(String(16), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoke_reason: str | None = Field(default=None, sa_column=Column(Text))  # sealed
    superseded_by: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid()))
    actor_sub: str = Field(sa_column=Column(String(100), nullable=False))


class Interaction(Base, table=True):
    __tablename__ = "interaction"
    __table_args__ = (
        CheckConstraint(_in("channel", INTERACTION_CHANNELS), name="channel"),
        CheckConstraint(_in("direction", ("inbound", "outbound")), name="direction"),
        Index("ix_interaction_customer_id_occurred_at", "customer_id", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    direction: str = Field(sa_column=Column(String(8), nullable=False))
    # free text, encrypted (services.profile.service.interactions): a ciphertext outgrows the typed length
    topic: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    staff_id: str = Field(sa_column=Column(String(100), nullable=False))
    branch_code: str | None = Field(default=None, sa_column=Column(String(16)))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TransactionRecord(Base, table=True):
    """A transaction from core banking, unique by its external id (transaction_external_id keeps that:
    on PostgreSQL the table is partitioned by month of occurred_at, and a partitioned table's unique
    keys must hold the partition key); amounts always positive fen."""

    __tablename__ = "transaction_record"
    __table_args__ = (
        CheckConstraint(_in("kind", TRANSACTION_KINDS), name="kind"),
        CheckConstraint(_in("channel", TRANSACTION_CHANNELS), name="channel"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        # Covers the summary's GROUP BY over a time window (an index-only scan on SQLite) and the lists.
        Index("ix_transaction_record_customer_window", "customer_id", "occurred_at", "kind", "channel", "amount_fen"),
        Index("ix_transaction_record_external_id", "external_id"),
        monthly_partitions("occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    external_id: str = Field(sa_column=Column(String(64), nullable=False))
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, primary_key=True))
    customer_initiated: bool = Field(sa_column=Column(Boolean, nullable=False))
    reverses_external_id: str | None = Field(default=None, sa_column=Column(String(64)))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TransactionExternalId(Base, table=True):
    """Every stored transaction's external id, once: the uniqueness the partitioned transaction table
    cannot keep itself. Written in the same transaction as the record."""

    __tablename__ = "transaction_external_id"

    external_id: str = Field(sa_column=Column(String(64), primary_key=True))


class AssetSnapshot(Base, table=True):
    """Total assets under management as of a date, from core banking; one per customer and date."""

    __tablename__ = "asset_snapshot"
    __table_args__ = (UniqueConstraint("customer_id", "as_of_date"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    as_of_date: date = Field(sa_column=Column(Date, nullable=False))
    aum_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


NEEDS_PURPOSES = ("saving", "wealth_growth", "retirement", "education", "housing", "business", "protection", "everyday")
HORIZONS = ("short", "medium", "long")
LIQUIDITY_NEEDS = ("high", "medium", "low")
HOLDING_CATEGORIES = ("deposit", "wealth", "loan", "card", "insurance")
HOLDING_STATUSES = ("held", "closed")


class CustomerNeeds(Base, table=True):
    """What the customer says they need: the purpose of their money, its horizon and how much of it they
    may need at short notice; one row per customer, replaced as a whole when stated again."""

    __tablename__ = "customer_needs"
    __table_args__ = (
        CheckConstraint(_in("purpose", NEEDS_PURPOSES), name="purpose"),
        CheckConstraint(_in("horizon", HORIZONS), name="horizon"),
        CheckConstraint(_in("liquidity_need", LIQUIDITY_NEEDS), name="liquidity_need"),
    )

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid(), ForeignKey("customer.id"), primary_key=True))
    purpose: str = Field(sa_column=Column(String(16), nullable=False))
    horizon: str = Field(sa_column=Column(String(8), nullable=False))
    liquidity_need: str = Field(sa_column=Column(String(8), nullable=False))
    stated_by_role: str = Field(sa_column=Column(String(16), nullable=False))
    stated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class Holding(Base, table=True):
    """A product the customer holds, as core banking reports it under its own reference (a contract id,
    never a card or account number): the product code, category, dates and whether it is still held."""

    __tablename__ = "holding"
    __table_args__ = (
        UniqueConstraint("customer_id", "holding_ref"),
        CheckConstraint(_in("category", HOLDING_CATEGORIES), name="category"),
        CheckConstraint(_in("status", HOLDING_STATUSES), name="status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    holding_ref: str = Field(sa_column=Column(String(64), nullable=False))
    product_code: str = Field(sa_column=Column(String(32), nullable=False))
    category: str = Field(sa_column=Column(String(12), nullable=False))
    opened_on: date = Field(sa_column=Column(Date, nullable=False))
    matures_on: date | None = Field(default=None, sa_column=Column(Date))
    status: str = Field(sa_column=Column(String(8), nullable=False))
    closed_on: date | None = Field(default=None, sa_column=Column(Date))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RelationshipManager(Base, table=True):
    """The staff member who cares for a customer (their token's `sub`) and the branch they work at, which
    lies on the line from the head office down to the customer's branch. One per customer; reassigning
    replaces it (the feed keeps the history as customer.manager_assigned events)."""

    __tablename__ = "relationship_manager"

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid(), ForeignKey("customer.id"), primary_key=True))
    manager_id: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    manager_branch_code: str = Field(sa_column=Column(String(16), nullable=False))
    assigned_by: str = Field(sa_column=Column(String(100), nullable=False))
    assigned_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class CareReminder(Base, table=True):
    """A care occasion already put on the feed (care.reminder_due): the key names the occasion (a
    birthday in a year, an assessment's expiry, a holding's maturity date...), so none is told twice."""

    __tablename__ = "care_reminder"

    occasion_key: str = Field(sa_column=Column(String(160), primary_key=True))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False, index=True))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CustomerImport(Base, table=True):
    """A customer registered by the migration batch, under the source system's id: a replay of the
    same item (the same keyed fingerprint) is a duplicate, another item under the id a conflict."""

    __tablename__ = "customer_import"

    external_id: str = Field(sa_column=Column(String(64), primary_key=True))
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    # HMAC of the item as validated (the vault's lookup key): no personal data can be read back from it.
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    imported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ErasureRequest(Base, table=True):
    """Who asked for erasure, when, what was pseudonymised and what is retained, and why."""

    __tablename__ = "erasure_request"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(sa_column=_customer_fk())
    requested_by_sub: str = Field(sa_column=Column(String(100), nullable=False))
    requested_by_role: str = Field(sa_column=Column(String(16), nullable=False))
    requested_via: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))  # sealed (service/reasons.py)
    erased_fields: list = Field(sa_column=Column(JSON, nullable=False))
    retained: list = Field(sa_column=Column(JSON, nullable=False))
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    completed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


Index("ix_erasure_request_customer_id", table_of(ErasureRequest).c.customer_id)

outbox = outbox_table(metadata)
# The organisation tree; profile owns it and puts every change on its feed (service/branches.py).
branch = branch_table(metadata)
idempotency = idempotency_table(metadata)
job_run = job_run_table(metadata)
audit_chain = audit_chain_table(metadata)
approval = approval_table(metadata)  # dual control: erasure, reveals beyond the daily count

# Each access-log row has its record in the audit chain; these columns never change once written
# (the reason is free text, kept out of the chain)
ACCESS_LOG = Mirror(
    table_of(AuditEntry), "id", ("id", "customer_id", "action", "actor_sub", "actor_role", "fields", "at")
)
