"""branch_copy: this service's copy of profile's organisation tree, kept from the feed (branch.created,
branch.changed); it fills as the consumer reads profile's feed from its cursor (the tree's first events
are the ones profile's own branch migration put on its feed).

Revision ID: 152b1904087d
Revises: 24cd4e5aea04
Create Date: 2026-12-05 20:28:20.488531
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types

revision: str = "152b1904087d"
down_revision: str | None = "24cd4e5aea04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
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


def downgrade() -> None:

    with op.batch_alter_table("branch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_branch_parent_code"))

    op.drop_table("branch")
