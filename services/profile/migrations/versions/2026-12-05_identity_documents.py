"""identity documents: an individual registers with a resident ID, a passport (with its issuing
state in id_country), a residence permit for Hong Kong, Macao and Taiwan residents, either mainland
travel permit or a foreign permanent resident ID card.

Revision ID: b00dfff1cd34
Revises: 3f4043acad8f
Create Date: 2026-12-05 09:03:16.149934
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types

revision: str = "b00dfff1cd34"
down_revision: str | None = "3f4043acad8f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = "id_type IN ('resident_id', 'credit_code')"
NEW_TYPES = (
    "id_type IN ('resident_id', 'credit_code', 'passport', 'residence_permit', 'hk_macao_permit', "
    "'taiwan_permit', 'foreign_permanent_id')"
)


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_country", sa.String(length=3), nullable=True))
        batch_op.alter_column(
            "id_type", existing_type=sa.VARCHAR(length=16), type_=sa.String(length=24), existing_nullable=False
        )
        batch_op.drop_constraint(op.f("ck_customer_id_type"), type_="check")
        batch_op.create_check_constraint("id_type", NEW_TYPES)


def downgrade() -> None:
    # A customer registered with one of the newer documents has no form before this revision:
    # refuse rather than lose them.
    count = f"SELECT count(*) FROM customer WHERE NOT ({OLD_TYPES})"  # noqa: S608 - constants only
    newer = op.get_bind().execute(sa.text(count)).scalar()
    if newer:
        raise RuntimeError(f"{newer} customers are registered with documents this revision predates")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_customer_id_type"), type_="check")
        batch_op.create_check_constraint("id_type", OLD_TYPES)
        batch_op.alter_column(
            "id_type", existing_type=sa.String(length=24), type_=sa.VARCHAR(length=16), existing_nullable=False
        )
        batch_op.drop_column("id_country")
