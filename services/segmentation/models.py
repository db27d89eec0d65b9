"""Segmentation tables: the customer feature read model with its daily activity aggregate, current
classes and their history, rule segments with versions and members, recompute jobs, the product
catalogue, Idempotency-Key records, the outbox, the feed cursors and who exported a person's data.
Core tables, because every hot path here is set-based SQL."""

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
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)
from sqlmodel import SQLModel

from services.common.approvals import approval_table
from services.common.audit_chain import audit_chain_table
from services.common.branches import branch_table
from services.common.consumer import consumer_cursor_table
from services.common.db import BigIntPK, UTCDateTime, service_registry
from services.common.idempotency import idempotency_table
from services.common.jobs import job_run_table
from services.common.outbox import outbox_table
from services.common.personal_data import personal_data_access_table


class Base(SQLModel, registry=service_registry()):
    """The segmentation service's own base: its own metadata, its own Alembic history."""


metadata = Base.metadata

SCHEMES = ("customer_type", "region", "asset_size", "behaviour")
CLASSES = {
    "customer_type": ("individual", "enterprise", "interbank"),
    "region": ("urban", "rural", "peri_urban"),
    "asset_size": ("major", "mid_high", "ordinary", "micro"),
    "behaviour": ("active", "potential", "dormant"),
}
# A rule segment is a scheme of its own, "rule:<segment id>", with one class: its members are in it.
RULE_CLASS = "member"

customer_feature = Table(
    "customer_feature",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("customer_no", String(20)),
    Column("type", String(16)),  # null until customer.registered arrives (feeds are not ordered together)
    Column("region_type", String(16)),
    Column("province", String(32)),
    Column("city", String(64)),
    Column("branch_code", String(16), index=True),
    Column("status", String(8), nullable=False, server_default="active"),
    Column("registered_at", UTCDateTime()),
    Column("aum_fen", BigInteger, nullable=False, server_default="0"),
    Column("aum_as_of_date", Date),
    Column("last_txn_at", UTCDateTime()),  # last customer-initiated transaction
    Column("txn_count_30", Integer, nullable=False, server_default="0"),
    Column("txn_count_90", Integer, nullable=False, server_default="0"),
    Column("txn_count_365", Integer, nullable=False, server_default="0"),
    Column("txn_amount_fen_30", BigInteger, nullable=False, server_default="0"),
    Column("txn_amount_fen_90", BigInteger, nullable=False, server_default="0"),
    Column("txn_amount_fen_365", BigInteger, nullable=False, server_default="0"),
    Column("digital_share_pct", Integer),  # of the last 365 days' transactions; null when there were none
    Column("risk_level", String(2)),
    Column("risk_expires_at", UTCDateTime()),
    Column("points_balance", BigInteger, nullable=False, server_default="0"),
    Column("nps_latest", Integer),
    Column("nps_at", UTCDateTime()),
    Column("is_marketing_contactable", Boolean, nullable=False, server_default="0"),
    Column("contactable_channels", String(100), nullable=False, server_default=""),
    Column("need_purpose", String(16)),  # the customer's stated needs (profile's customer.needs_stated)
    Column("need_horizon", String(8)),
    Column("need_liquidity", String(8)),
    Column("class_customer_type", String(16)),
    Column("class_region", String(16)),
    Column("class_asset_size", String(16)),
    Column("class_behaviour", String(16)),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("status IN ('active', 'closed')", name="status"),
    Index("ix_customer_feature_class_asset_size_customer_id", "class_asset_size", "customer_id"),
    Index("ix_customer_feature_class_behaviour_customer_id", "class_behaviour", "customer_id"),
    Index("ix_customer_feature_class_region_customer_id", "class_region", "customer_id"),
    Index("ix_customer_feature_class_customer_type_customer_id", "class_customer_type", "customer_id"),
)

# The products each customer holds, from profile's holding.changed (one row per holding, as profile keys
# it): recommendations never offer one that is held.
customer_holding = Table(
    "customer_holding",
    metadata,
    Column("holding_id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False, index=True),
    Column("product_code", String(32), nullable=False),
    Column("status", String(8), nullable=False),
    CheckConstraint("status IN ('held', 'closed')", name="status"),
)

# Compact per-customer daily sums of customer-initiated transactions: the windowed features are
# recomputed from it set-based, and it is all an event needs to touch. On SQLite the rows are stored
# in primary-key order (WITHOUT ROWID), so the recompute's GROUP BY customer reads them in one pass
# with no lookup per row.
daily_activity = Table(
    "customer_daily_activity",
    metadata,
    Column("customer_id", String(36), nullable=False),
    Column("day", Date, nullable=False),
    Column("txn_count", Integer, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("digital_count", Integer, nullable=False),
    PrimaryKeyConstraint("customer_id", "day"),
    Index("ix_customer_daily_activity_day", "day"),
    sqlite_with_rowid=False,
)

# Each counted (customer-initiated) transaction while it can still move a window, so a reversal can
# take it out of the daily row it was counted in; pruned with the daily rows.
counted_transaction = Table(
    "counted_transaction",
    metadata,
    Column("external_id", String(64), primary_key=True),
    Column("customer_id", String(36), nullable=False, index=True),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("day", Date, nullable=False, index=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("is_digital", Boolean, nullable=False),
)

membership_change = Table(
    "membership_change",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("customer_id", String(36), nullable=False),
    Column("scheme", String(50), nullable=False),  # a built-in scheme or rule:<segment id>
    Column("from_class", String(16)),
    Column("to_class", String(16)),
    Column("changed_at", UTCDateTime(), nullable=False),
    Index("ix_membership_change_customer_id_id", "customer_id", "id"),
    Index("ix_membership_change_scheme_changed_at", "scheme", "changed_at"),
)

segment = Table(
    "segment",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("description", String(500), nullable=False, server_default=""),
    Column("rule", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

segment_version = Table(
    "segment_version",
    metadata,
    Column("segment_id", String(36), ForeignKey("segment.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("rule", JSON, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("segment_id", "version"),
)

segment_member = Table(
    "segment_member",
    metadata,
    Column("segment_id", String(36), ForeignKey("segment.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("segment_id", "customer_id"),
    Index("ix_segment_member_customer_id", "customer_id"),
)

recompute_job = Table(
    "recompute_job",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    # 1 while queued or running, null afterwards: the unique key lets only one job hold it (the lock)
    Column("running_slot", Integer, unique=True),
    Column("phase", String(32), nullable=False),
    Column("steps_done", Integer, nullable=False),
    Column("steps_total", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("error", String(200)),
    Column("requested_by", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("heartbeat_at", UTCDateTime(), nullable=False),  # last sign of life; a stale job is abandoned
    # Which customers' windows the job re-derives: "moved" (those with rows that left a window since
    # `windows_since`, the day of the previous successful job) or "all" (the repair pass). Asked for
    # at the start; a "moved" job without a usable previous day runs as "all" and says so.
    Column("windows", String(8), nullable=False, server_default="all"),
    Column("windows_since", Date()),
    CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
    CheckConstraint("windows IN ('moved', 'all')", name="windows"),
)

product = Table(
    "product",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("category", String(16), nullable=False),
    Column("risk_level", String(2)),
    Column("target_classes", JSON, nullable=False),
    Column("needs_tag", String(32), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime()),
    Column("retired_at", UTCDateTime()),
    CheckConstraint("category IN ('deposit', 'wealth', 'loan', 'card', 'insurance')", name="category"),
)

# Events from another service's feed that could not be applied as they stand (a missing or
# wrong-typed field): set aside with the reason so the feed goes on; kept for a person to look at.
event_quarantine = Table(
    "event_quarantine",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("feed", String(100), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("event_id", String(64)),
    Column("type", String(100)),
    Column("subject_id", String(64), index=True),
    Column("data", JSON),
    Column("error", String(500), nullable=False),
    Column("quarantined_at", UTCDateTime(), nullable=False),
    UniqueConstraint("feed", "position"),
)

outbox = outbox_table(metadata)
# A copy of profile's organisation tree, kept from its feed (services.common.branches).
branch = branch_table(metadata)
consumer_cursor = consumer_cursor_table(metadata)
job_run = job_run_table(metadata)
audit_chain = audit_chain_table(metadata)
approval = approval_table(metadata)  # dual control: retiring a product (services.common.approvals)
idempotency = idempotency_table(metadata)
personal_data_access = personal_data_access_table(metadata)
