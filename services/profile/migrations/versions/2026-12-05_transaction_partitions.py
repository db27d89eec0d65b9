"""transaction_partitions: transactions partitioned by month of occurred_at on PostgreSQL.

The primary key becomes (id, occurred_at) on both databases (a partitioned table's keys must hold
the partition key), and the external id's uniqueness moves to its own table, transaction_external_id,
filled from the stored records. On PostgreSQL the table is rebuilt as a partitioned table: one
partition for each month from the oldest stored transaction to three months ahead, a default
partition for the rest, the rows copied over in this transaction. SQLite keeps one plain table.

Revision ID: 423208f67be4
Revises: cab55db88eae
Create Date: 2026-12-05 20:45:34.720469
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types
from services.common.partitions import fill_partitioned, unpartition

revision: str = "423208f67be4"
down_revision: str | None = "cab55db88eae"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T, OLD = "transaction_record", "transaction_record_unpartitioned"
WINDOW_COLUMNS = "customer_id, occurred_at, kind, channel, amount_fen"


def upgrade() -> None:
    op.create_table(
        "transaction_external_id",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("external_id", name=op.f("pk_transaction_external_id")),
    )
    op.execute(f"INSERT INTO transaction_external_id (external_id) SELECT external_id FROM {T}")  # noqa: S608 - constants only
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table(T, recreate="always") as batch_op:
            batch_op.drop_constraint(batch_op.f("uq_transaction_record_external_id"), type_="unique")
            batch_op.create_primary_key("pk_transaction_record", ["id", "occurred_at"])
            batch_op.create_index("ix_transaction_record_external_id", ["external_id"], unique=False)
        return
    _partition()


def _partition() -> None:
    op.execute(f"ALTER TABLE {T} RENAME TO {OLD}")
    # Names of index-backed constraints and indexes are schema-wide: free them for the new table.
    op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT pk_transaction_record")
    op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT uq_transaction_record_external_id")
    op.execute("DROP INDEX ix_transaction_record_customer_window")
    op.execute(
        f"CREATE TABLE {T} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (occurred_at)"
    )
    op.execute(f"ALTER TABLE {T} ADD CONSTRAINT pk_transaction_record PRIMARY KEY (id, occurred_at)")
    op.execute(
        f"ALTER TABLE {T} ADD CONSTRAINT fk_transaction_record_customer_id_customer "
        "FOREIGN KEY (customer_id) REFERENCES customer (id)"
    )
    op.execute(f"CREATE INDEX ix_transaction_record_customer_window ON {T} ({WINDOW_COLUMNS})")
    op.execute(f"CREATE INDEX ix_transaction_record_external_id ON {T} (external_id)")
    fill_partitioned(op.get_bind(), T, "occurred_at", OLD)
    op.execute(f"DROP TABLE {OLD}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table(T, recreate="always") as batch_op:
            batch_op.drop_index("ix_transaction_record_external_id")
            batch_op.create_primary_key("pk_transaction_record", ["id"])
            batch_op.create_unique_constraint(batch_op.f("uq_transaction_record_external_id"), ["external_id"])
    else:
        unpartition(op.get_bind(), T)
        op.execute(f"ALTER TABLE {T} ADD CONSTRAINT pk_transaction_record PRIMARY KEY (id)")
        op.execute(f"ALTER TABLE {T} ADD CONSTRAINT uq_transaction_record_external_id UNIQUE (external_id)")
        op.execute(
            f"ALTER TABLE {T} ADD CONSTRAINT fk_transaction_record_customer_id_customer "
            "FOREIGN KEY (customer_id) REFERENCES customer (id)"
        )
        op.execute(f"CREATE INDEX ix_transaction_record_customer_window ON {T} ({WINDOW_COLUMNS})")
    op.drop_table("transaction_external_id")
