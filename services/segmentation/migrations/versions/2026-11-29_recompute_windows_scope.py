"""Recompute jobs say which customers' windows they re-derive: "moved" (rows that left a window since
the previous successful job, the daily job) or "all" (the repair pass, what every earlier job did).

Revision ID: 069b4939b655
Revises: 5cabb5f6adca
Create Date: 2026-11-29 01:25:21.815608
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types

revision: str = "069b4939b655"
down_revision: str | None = "5cabb5f6adca"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recompute_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("windows", sa.String(length=8), server_default="all", nullable=False))
        batch_op.add_column(sa.Column("windows_since", sa.Date(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_recompute_job_windows"), "windows IN ('moved', 'all')")


def downgrade() -> None:
    with op.batch_alter_table("recompute_job", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_recompute_job_windows"), type_="check")
        batch_op.drop_column("windows_since")
        batch_op.drop_column("windows")
