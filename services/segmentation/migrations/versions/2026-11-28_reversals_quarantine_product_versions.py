"""Counted transactions (so a reversal can take one out of its day), the quarantine of malformed
feed events, product versions with update and retirement times, and on SQLite the daily activity
table rebuilt WITHOUT ROWID (rows in primary-key order for the recompute's single pass).

Revision ID: 5cabb5f6adca
Revises: 4f05eb176ec2
Create Date: 2026-11-28 22:19:14.751002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types

revision: str = "5cabb5f6adca"
down_revision: str | None = "4f05eb176ec2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild_daily_activity(with_rowid: bool) -> None:
    """SQLite only: copy customer_daily_activity into a table stored with or without rowid."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "customer_daily_activity_new",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("txn_count", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("digital_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "day", name=op.f("pk_customer_daily_activity")),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(
        "INSERT INTO customer_daily_activity_new (customer_id, day, txn_count, amount_fen, digital_count) "
        "SELECT customer_id, day, txn_count, amount_fen, digital_count FROM customer_daily_activity "
        "ORDER BY customer_id, day"
    )
    op.drop_index("ix_customer_daily_activity_day", table_name="customer_daily_activity")
    op.drop_table("customer_daily_activity")
    op.rename_table("customer_daily_activity_new", "customer_daily_activity")
    op.create_index("ix_customer_daily_activity_day", "customer_daily_activity", ["day"], unique=False)


def upgrade() -> None:
    _rebuild_daily_activity(with_rowid=False)
    op.create_table(
        "counted_transaction",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("is_digital", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("external_id", name=op.f("pk_counted_transaction")),
    )
    with op.batch_alter_table("counted_transaction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_counted_transaction_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_counted_transaction_day"), ["day"], unique=False)

    op.create_table(
        "event_quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("feed", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=100), nullable=True),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("quarantined_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_quarantine")),
        sa.UniqueConstraint("feed", "position", name=op.f("uq_event_quarantine_feed_position")),
    )
    with op.batch_alter_table("event_quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_quarantine_subject_id"), ["subject_id"], unique=False)

    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retired_at", services.common.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    _rebuild_daily_activity(with_rowid=True)
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("version")

    with op.batch_alter_table("event_quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_quarantine_subject_id"))

    op.drop_table("event_quarantine")
    with op.batch_alter_table("counted_transaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counted_transaction_day"))
        batch_op.drop_index(batch_op.f("ix_counted_transaction_customer_id"))

    op.drop_table("counted_transaction")
