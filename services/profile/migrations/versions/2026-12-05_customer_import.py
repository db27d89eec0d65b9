"""customer_import: the migration batch's record of each customer it registered, by the source
system's id (POST /v1/customers:batch), so a replayed item is a duplicate.

Revision ID: cab55db88eae
Revises: 7e82847c031d
Create Date: 2026-12-05 20:20:28.319933
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types

revision: str = "cab55db88eae"
down_revision: str | None = "7e82847c031d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_import",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("imported_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_customer_import_customer_id_customer")),
        sa.PrimaryKeyConstraint("external_id", name=op.f("pk_customer_import")),
    )


def downgrade() -> None:
    op.drop_table("customer_import")
