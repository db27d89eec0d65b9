"""response_partitions: survey responses partitioned by month of responded_at on PostgreSQL.

A response's identity and its one-per-survey-and-customer uniqueness move to survey_response_key (id,
survey, customer, responded_at; filled from the stored responses), written first in the response's
transaction; answers and follow-ups now refer to it. The responses' primary key becomes (id,
responded_at) on both databases, their (survey_id, customer_id) index is no longer unique, and a
response's id refers to its key (deleting the key deletes the response and its answers). On PostgreSQL
the table is rebuilt partitioned as profile's transactions and loyalty's ledger are: a partition for
each month from the oldest stored response to three months ahead, a default partition, every row
copied in this transaction. SQLite keeps one plain table.

Revision ID: 78654ebfd073
Revises: 19036e433dfa
Create Date: 2026-12-06 05:15:12.875749
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db  # noqa: F401 - shared column types
from services.common.partitions import fill_partitioned, unpartition

revision: str = "78654ebfd073"
down_revision: str | None = "19036e433dfa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T, OLD, KEY = "survey_response", "survey_response_unpartitioned", "survey_response_key"
INDEX = "ix_survey_response_survey_id_customer_id"
KEY_FK = "fk_survey_response_id_survey_response_key"
# Who refers to a response by id, and what a deletion of the response does to them.
REFERENCES = (("survey_answer", "CASCADE"), ("follow_up", None))


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _repoint(target: str) -> None:
    """Every reference to a response by id moves to `target`'s id."""
    source = KEY if target == T else T
    for table, ondelete in REFERENCES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_response_id_{source}", type_="foreignkey")
            batch_op.create_foreign_key(
                f"fk_{table}_response_id_{target}", target, ["response_id"], ["id"], ondelete=ondelete
            )


def upgrade() -> None:
    op.create_table(
        KEY,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("responded_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response_key")),
    )
    with op.batch_alter_table(KEY, schema=None) as batch_op:
        batch_op.create_index("ix_survey_response_key_survey_id_customer_id", ["survey_id", "customer_id"], unique=True)
    op.execute(
        f"INSERT INTO {KEY} (id, survey_id, customer_id, responded_at)"  # noqa: S608 - constants only
        f" SELECT id, survey_id, customer_id, responded_at FROM {T}"
    )
    _repoint(KEY)
    if not _postgres():
        with op.batch_alter_table(T, recreate="always") as batch_op:
            batch_op.drop_index(INDEX)
            batch_op.create_index(INDEX, ["survey_id", "customer_id"], unique=False)
            batch_op.create_primary_key("pk_survey_response", ["id", "responded_at"])
            batch_op.create_foreign_key(KEY_FK, KEY, ["id"], ["id"], ondelete="CASCADE")
        return
    op.execute(f"ALTER TABLE {T} RENAME TO {OLD}")
    # Names of index-backed constraints and indexes are schema-wide: free them for the new table.
    op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT pk_survey_response")
    op.execute(f"DROP INDEX {INDEX}")
    op.execute(
        f"CREATE TABLE {T} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (responded_at)"
    )
    op.execute(f"ALTER TABLE {T} ADD CONSTRAINT pk_survey_response PRIMARY KEY (id, responded_at)")
    op.execute(f"ALTER TABLE {T} ADD CONSTRAINT {KEY_FK} FOREIGN KEY (id) REFERENCES {KEY} (id) ON DELETE CASCADE")
    op.execute(f"CREATE INDEX {INDEX} ON {T} (survey_id, customer_id)")
    fill_partitioned(op.get_bind(), T, "responded_at", OLD)
    op.execute(f"DROP TABLE {OLD}")


def downgrade() -> None:
    if not _postgres():
        with op.batch_alter_table(T, recreate="always") as batch_op:
            batch_op.drop_constraint(KEY_FK, type_="foreignkey")
            batch_op.drop_index(INDEX)
            batch_op.create_index(INDEX, ["survey_id", "customer_id"], unique=True)
            batch_op.create_primary_key("pk_survey_response", ["id"])
    else:
        unpartition(op.get_bind(), T)
        op.execute(f"ALTER TABLE {T} ADD CONSTRAINT pk_survey_response PRIMARY KEY (id)")
        op.execute(f"CREATE UNIQUE INDEX {INDEX} ON {T} (survey_id, customer_id)")
    _repoint(T)
    with op.batch_alter_table(KEY, schema=None) as batch_op:
        batch_op.drop_index("ix_survey_response_key_survey_id_customer_id")
    op.drop_table(KEY)
