"""branch: the organisation tree (head office, province, city, outlet). Existing customers stay
valid: the migration opens a head office (HQ0001) and adopts every branch code customers already
carry as an outlet directly under it, each on the feed as branch.created, so other services' copies
hold the same tree. An admin then moves the adopted outlets to their place (PATCH /v1/branches).

Revision ID: e7c69501f656
Revises: 423208f67be4
Create Date: 2026-12-05 20:19:47.240562
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types

revision: str = "e7c69501f656"
down_revision: str | None = "423208f67be4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEAD_OFFICE = ("HQ0001", "总行")


def upgrade() -> None:
    branch = op.create_table(
        "branch",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_branch")),
    )
    with op.batch_alter_table("branch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_branch_parent_code"), ["parent_code"], unique=False)
    _adopt_existing_codes(branch)


def _adopt_existing_codes(branch: sa.Table) -> None:
    conn = op.get_bind()
    customer = sa.table("customer", sa.column("branch_code", sa.String))
    outbox = sa.table(
        "outbox_event",
        sa.column("event_id", sa.String),
        sa.column("type", sa.String),
        sa.column("occurred_at", services.common.db.UTCDateTime()),
        sa.column("subject_id", sa.String),
        sa.column("data", sa.JSON),
    )
    codes = sorted(set(conn.execute(sa.select(customer.c.branch_code).distinct()).scalars()) - {HEAD_OFFICE[0]})
    now = datetime.now(UTC)
    rows = [{"code": HEAD_OFFICE[0], "name": HEAD_OFFICE[1], "level": "head_office", "parent_code": None}]
    rows += [{"code": c, "name": c, "level": "outlet", "parent_code": HEAD_OFFICE[0]} for c in codes]
    rows = [r | {"status": "open", "version": 1} for r in rows]
    conn.execute(branch.insert(), [r | {"updated_at": now} for r in rows])
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "type": "branch.created",
            "occurred_at": now,
            "subject_id": r["code"],
            "data": r,
        }
        for r in rows
    ]
    conn.execute(outbox.insert(), events)


def downgrade() -> None:
    with op.batch_alter_table("branch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_branch_parent_code"))
    op.drop_table("branch")
    # the branch events stay on the feed: a feed is never rewritten
