"""ledger_partitions: the points ledger partitioned by month of occurred_at on PostgreSQL.

An entry's identity and dedupe key move to points_ledger_entry_key (filled from the stored entries),
which numbers new entries and keeps the dedupe key unique; lots, allocations, redemptions and event
registrations now refer to it. The ledger's primary key becomes (id, occurred_at) on both databases.
On PostgreSQL the ledger is rebuilt as a partitioned table: a partition for each month from the oldest
stored entry to three months ahead, a default partition, every row copied in this transaction. SQLite
keeps one plain table.

Revision ID: 7d2c4b1e9f30
Revises: 5bd47b4a21f2
Create Date: 2026-12-05 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db  # noqa: F401 - shared column types
from services.common.partitions import fill_partitioned, unpartition

revision: str = "7d2c4b1e9f30"
down_revision: str | None = "5bd47b4a21f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T, OLD, KEY = "points_ledger_entry", "points_ledger_entry_unpartitioned", "points_ledger_entry_key"
REFERENCES = (
    ("points_lot", "id"),
    ("points_allocation", "entry_id"),
    ("redemption", "entry_id"),
    ("event_registration", "charge_entry_id"),
)
INDEXES = {
    "ix_points_ledger_entry_customer_id_id": "customer_id, id",
    "ix_points_ledger_entry_customer_id_rule_id_occurred_at": "customer_id, rule_id, occurred_at",
    "ix_points_ledger_entry_customer_id_source_ref": "customer_id, source_ref",
}
ACCOUNT_FK = (
    "ADD CONSTRAINT fk_points_ledger_entry_customer_id_points_account "
    "FOREIGN KEY (customer_id) REFERENCES points_account (customer_id)"
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _repoint(target: str) -> None:
    """Every reference to an entry by id moves to `target`'s id."""
    source = KEY if target == T else T
    for table, column in REFERENCES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_{column}_{source}", type_="foreignkey")
            batch_op.create_foreign_key(f"fk_{table}_{column}_{target}", target, [column], ["id"])


def upgrade() -> None:
    op.create_table(
        KEY,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger_entry_key")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_points_ledger_entry_key_dedupe_key")),
    )
    op.execute(f"INSERT INTO {KEY} (id, dedupe_key) SELECT id, dedupe_key FROM {T}")  # noqa: S608 - constants only
    if _postgres():
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{KEY}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {KEY}), false)"  # noqa: S608
        )
    _repoint(KEY)
    if not _postgres():
        with op.batch_alter_table(T, recreate="always") as batch_op:
            batch_op.drop_constraint(batch_op.f("uq_points_ledger_entry_dedupe_key"), type_="unique")
            batch_op.create_primary_key("pk_points_ledger_entry", ["id", "occurred_at"])
        return
    _partition()


def _partition() -> None:
    op.execute(f"ALTER TABLE {T} RENAME TO {OLD}")
    # Names of index-backed constraints and indexes are schema-wide: free them for the new table.
    op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT pk_points_ledger_entry")
    op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT uq_points_ledger_entry_dedupe_key")
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute(
        f"CREATE TABLE {T} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (occurred_at)"
    )
    op.execute(f"ALTER TABLE {T} ALTER COLUMN id DROP DEFAULT")  # the key table numbers entries now
    op.execute(f"ALTER TABLE {T} ADD CONSTRAINT pk_points_ledger_entry PRIMARY KEY (id, occurred_at)")
    op.execute(f"ALTER TABLE {T} {ACCOUNT_FK}")
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {T} ({columns})")
    fill_partitioned(op.get_bind(), T, "occurred_at", OLD)
    op.execute(f"DROP TABLE {OLD}")  # with the id sequence it owned


def downgrade() -> None:
    if not _postgres():
        with op.batch_alter_table(T, recreate="always") as batch_op:
            batch_op.create_primary_key("pk_points_ledger_entry", ["id"])
            batch_op.create_unique_constraint(batch_op.f("uq_points_ledger_entry_dedupe_key"), ["dedupe_key"])
    else:
        seq = f"{T}_id_seq"
        unpartition(op.get_bind(), T)
        op.execute(f"CREATE SEQUENCE {seq} OWNED BY {T}.id")
        op.execute(f"SELECT setval('{seq}', (SELECT coalesce(max(id), 0) + 1 FROM {T}), false)")  # noqa: S608
        op.execute(f"ALTER TABLE {T} ALTER COLUMN id SET DEFAULT nextval('{seq}')")
        op.execute(f"ALTER TABLE {T} ADD CONSTRAINT pk_points_ledger_entry PRIMARY KEY (id)")
        op.execute(f"ALTER TABLE {T} ADD CONSTRAINT uq_points_ledger_entry_dedupe_key UNIQUE (dedupe_key)")
        op.execute(f"ALTER TABLE {T} {ACCOUNT_FK}")
        for name, columns in INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {T} ({columns})")
    _repoint(T)
    op.drop_table(KEY)
