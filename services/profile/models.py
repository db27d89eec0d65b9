"""Profile tables: customers (personal data encrypted, keyed hashes for lookup), the audit of
personal-data reads and overrides, the customer-number counter, outbox and idempotency records."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Integer, String
from sqlmodel import Field

from services.common.db import BigIntPK, UTCDateTime, make_base, utcnow
from services.common.idempotency import idempotency_table
from services.common.outbox import outbox_table

Base = make_base()
metadata = Base.metadata

CUSTOMER_TYPES = ("individual", "enterprise", "interbank")
REGION_TYPES = ("urban", "rural", "peri_urban")
STATUSES = ("active", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Customer(Base, table=True):
    __tablename__ = "customer"
    __table_args__ = (
        CheckConstraint(_in("type", CUSTOMER_TYPES), name="type"),
        CheckConstraint(_in("region_type", REGION_TYPES), name="region_type"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("id_type", ("resident_id", "credit_code")), name="id_type"),
        Index("ix_customer_branch_code_customer_no", "branch_code", "customer_no"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_no: str = Field(sa_column=Column(String(12), nullable=False, unique=True))
    type: str = Field(sa_column=Column(String(16), nullable=False))
    name: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    id_type: str = Field(sa_column=Column(String(16), nullable=False))
    id_number_enc: str = Field(sa_column=Column(String(200), nullable=False))
    id_number_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    id_check_override_reason: str | None = Field(default=None, sa_column=Column(String(500)))
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


class AuditEntry(Base, table=True):
    """Who read full personal data or overrode an identity check, when and why; append-only."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True, autoincrement=True))
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    action: str = Field(sa_column=Column(String(40), nullable=False))
    actor_sub: str = Field(sa_column=Column(String(100), nullable=False))
    actor_role: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str = Field(sa_column=Column(String(500), nullable=False))
    fields: str = Field(sa_column=Column(String(200), nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(String(128)))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Counter(Base, table=True):
    """Named monotonic counters (customer_no); the row lock serialises concurrent takers."""

    __tablename__ = "counter"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    value: int = Field(sa_column=Column(BigIntPK, nullable=False))


outbox = outbox_table(metadata)
idempotency = idempotency_table(metadata)
