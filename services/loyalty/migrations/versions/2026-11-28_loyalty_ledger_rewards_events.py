"""Loyalty: points accounts, the append-only ledger with lots and allocations, earning rules and
their versions, segments, rewards, redemptions, customer events, activities; outbox, idempotency,
consumer cursors.

Revision ID: 90387f944c9b
Revises:
Create Date: 2026-11-28 20:32:24.599968
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types

revision: str = "90387f944c9b"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("is_repeatable", sa.Boolean(), nullable=False),
        sa.Column("is_retired", sa.Boolean(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "trigger IN ('manual', 'mobile_first_login', 'survey_responded', 'event_attended')",
            name=op.f("ck_activity_trigger"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_activity")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_trigger"), ["trigger"], unique=False)

    op.create_table(
        "consumer_cursor",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_consumer_cursor")),
    )
    op.create_table(
        "customer_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=False),
        sa.Column("starts_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("target_segments", sa.JSON(), nullable=False),
        sa.Column("points_price", sa.BigInteger(), nullable=False),
        sa.Column("attendance_points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('appreciation', 'lecture', 'health_talk', 'other')", name=op.f("ck_customer_event_category")
        ),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name=op.f("ck_customer_event_status")),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_customer_event_capacity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_event")),
    )
    with op.batch_alter_table("customer_event", schema=None) as batch_op:
        batch_op.create_index("ix_customer_event_branch_code_starts_at", ["branch_code", "starts_at"], unique=False)

    op.create_table(
        "customer_segment",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("scheme", sa.String(length=100), nullable=False),
        sa.Column("class_name", sa.String(length=100), nullable=False),
        sa.Column("changed_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "scheme", name=op.f("pk_customer_segment")),
    )
    op.create_table(
        "earning_rule",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("retired_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earning_rule")),
        sa.UniqueConstraint("code", name=op.f("uq_earning_rule_code")),
    )
    op.create_table(
        "idempotency_record",
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_record")),
    )
    op.create_table(
        "outbox_event",
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_event_id")),
    )
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_event_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "points_account",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("lifetime_earned", sa.BigInteger(), nullable=False),
        sa.Column("enrolled_via", sa.String(length=16), nullable=False),
        sa.Column("enrolled_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("frozen_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("frozen_reason", sa.String(length=40), nullable=True),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'frozen')", name=op.f("ck_points_account_status")),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_points_account_balance_not_negative")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_points_account")),
    )
    op.create_table(
        "reward",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("points_price", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=True),
        sa.Column("voucher_valid_days", sa.Integer(), nullable=True),
        sa.Column("eligible_segments", sa.JSON(), nullable=False),
        sa.Column("eligible_tiers", sa.JSON(), nullable=False),
        sa.Column("active_from", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("active_until", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("cancel_window_hours", sa.Integer(), nullable=False),
        sa.Column("is_retired", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("type IN ('gift', 'voucher', 'ticket')", name=op.f("ck_reward_type")),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name=op.f("ck_reward_stock_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward")),
        sa.UniqueConstraint("code", name=op.f("uq_reward_code")),
    )
    op.create_table(
        "earning_rule_version",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("points_per_100_cny", sa.Integer(), nullable=False),
        sa.Column("min_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("daily_cap", sa.BigInteger(), nullable=True),
        sa.Column("monthly_cap", sa.BigInteger(), nullable=True),
        sa.Column("multipliers", sa.JSON(), nullable=False),
        sa.Column("valid_from", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("actor_sub", sa.String(length=100), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points_per_100_cny >= 0", name=op.f("ck_earning_rule_version_rate_not_negative")),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["earning_rule.id"], name=op.f("fk_earning_rule_version_rule_id_earning_rule")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earning_rule_version")),
    )
    with op.batch_alter_table("earning_rule_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_earning_rule_version_kind"), ["kind"], unique=False)
        batch_op.create_index("ix_earning_rule_version_rule_id_version", ["rule_id", "version"], unique=True)

    op.create_table(
        "points_ledger_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_ref", sa.String(length=100), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor_sub", sa.String(length=100), nullable=True),
        sa.Column("occurred_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('earn', 'redeem', 'expire', 'adjust', 'reverse')", name=op.f("ck_points_ledger_entry_kind")
        ),
        sa.CheckConstraint("balance_after >= 0", name=op.f("ck_points_ledger_entry_balance_after_not_negative")),
        sa.CheckConstraint("points <> 0", name=op.f("ck_points_ledger_entry_points_not_zero")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["points_account.customer_id"],
            name=op.f("fk_points_ledger_entry_customer_id_points_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger_entry")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_points_ledger_entry_dedupe_key")),
    )
    with op.batch_alter_table("points_ledger_entry", schema=None) as batch_op:
        batch_op.create_index("ix_points_ledger_entry_customer_id_id", ["customer_id", "id"], unique=False)
        batch_op.create_index(
            "ix_points_ledger_entry_customer_id_rule_id_occurred_at",
            ["customer_id", "rule_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_points_ledger_entry_customer_id_source_ref", ["customer_id", "source_ref"], unique=False
        )

    op.create_table(
        "event_registration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("queue_no", sa.Integer(), nullable=False),
        sa.Column("queued_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("charge_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('registered', 'waitlisted', 'cancelled', 'attended')", name=op.f("ck_event_registration_status")
        ),
        sa.ForeignKeyConstraint(
            ["charge_entry_id"],
            ["points_ledger_entry.id"],
            name=op.f("fk_event_registration_charge_entry_id_points_ledger_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["customer_event.id"], name=op.f("fk_event_registration_event_id_customer_event")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_registration")),
    )
    with op.batch_alter_table("event_registration", schema=None) as batch_op:
        batch_op.create_index("ix_event_registration_customer_id", ["customer_id"], unique=False)
        batch_op.create_index("ix_event_registration_event_id_customer_id", ["event_id", "customer_id"], unique=True)

    op.create_table(
        "points_lot",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("remaining >= 0 AND remaining <= points", name=op.f("ck_points_lot_remaining_in_range")),
        sa.ForeignKeyConstraint(["id"], ["points_ledger_entry.id"], name=op.f("fk_points_lot_id_points_ledger_entry")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_lot")),
    )
    with op.batch_alter_table("points_lot", schema=None) as batch_op:
        batch_op.create_index("ix_points_lot_customer_id_expires_at", ["customer_id", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_points_lot_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "redemption",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("reward_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("voucher_code", sa.String(length=20), nullable=True),
        sa.Column("voucher_valid_until", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voucher_used_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_until", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('completed', 'cancelled')", name=op.f("ck_redemption_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["points_account.customer_id"], name=op.f("fk_redemption_customer_id_points_account")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["points_ledger_entry.id"], name=op.f("fk_redemption_entry_id_points_ledger_entry")
        ),
        sa.ForeignKeyConstraint(["reward_id"], ["reward.id"], name=op.f("fk_redemption_reward_id_reward")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption")),
        sa.UniqueConstraint("voucher_code", name=op.f("uq_redemption_voucher_code")),
    )
    with op.batch_alter_table("redemption", schema=None) as batch_op:
        batch_op.create_index("ix_redemption_customer_id_reward_id", ["customer_id", "reward_id"], unique=False)

    op.create_table(
        "points_allocation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["points_ledger_entry.id"], name=op.f("fk_points_allocation_entry_id_points_ledger_entry")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["points_lot.id"], name=op.f("fk_points_allocation_lot_id_points_lot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_allocation")),
    )
    with op.batch_alter_table("points_allocation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_points_allocation_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_points_allocation_lot_id"), ["lot_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("points_allocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_points_allocation_lot_id"))
        batch_op.drop_index(batch_op.f("ix_points_allocation_entry_id"))

    op.drop_table("points_allocation")
    with op.batch_alter_table("redemption", schema=None) as batch_op:
        batch_op.drop_index("ix_redemption_customer_id_reward_id")

    op.drop_table("redemption")
    with op.batch_alter_table("points_lot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_points_lot_expires_at"))
        batch_op.drop_index("ix_points_lot_customer_id_expires_at")

    op.drop_table("points_lot")
    with op.batch_alter_table("event_registration", schema=None) as batch_op:
        batch_op.drop_index("ix_event_registration_event_id_customer_id")
        batch_op.drop_index("ix_event_registration_customer_id")

    op.drop_table("event_registration")
    with op.batch_alter_table("points_ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_points_ledger_entry_customer_id_source_ref")
        batch_op.drop_index("ix_points_ledger_entry_customer_id_rule_id_occurred_at")
        batch_op.drop_index("ix_points_ledger_entry_customer_id_id")

    op.drop_table("points_ledger_entry")
    with op.batch_alter_table("earning_rule_version", schema=None) as batch_op:
        batch_op.drop_index("ix_earning_rule_version_rule_id_version")
        batch_op.drop_index(batch_op.f("ix_earning_rule_version_kind"))

    op.drop_table("earning_rule_version")
    op.drop_table("reward")
    op.drop_table("points_account")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_subject_id"))

    op.drop_table("outbox_event")
    op.drop_table("idempotency_record")
    op.drop_table("earning_rule")
    op.drop_table("customer_segment")
    with op.batch_alter_table("customer_event", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_event_branch_code_starts_at")

    op.drop_table("customer_event")
    op.drop_table("consumer_cursor")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_trigger"))

    op.drop_table("activity")
