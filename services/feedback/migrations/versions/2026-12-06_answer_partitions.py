"""answer_partitions: survey answers partitioned by month of responded_at on PostgreSQL.

An answer carries its response's responded_at; the answers' primary key becomes (id, responded_at) on
both databases (a partitioned table's keys must hold the partition key), so on SQLite id is no longer
the row number and the writer numbers new answers. Answers still refer to survey_response_key
(deleting a key deletes its answers). On PostgreSQL the table is rebuilt partitioned as the responses
are: a partition for each month from the oldest stored answer to three months ahead, a default
partition, every row copied in this transaction; the id sequence is kept, with its value, and still
numbers answers written without an id. SQLite keeps one plain table.

Revision ID: 8c49b522b09d
Revises: 78654ebfd073
Create Date: 2026-12-06 08:55:00.000000
"""

from collections.abc import Sequence

from alembic import op

import services.common.db  # noqa: F401 - shared column types
from services.common.partitions import fill_partitioned, unpartition

revision: str = "8c49b522b09d"
down_revision: str | None = "78654ebfd073"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T, OLD, SEQ = "survey_answer", "survey_answer_unpartitioned", "survey_answer_id_seq"
INDEXES = {
    "ix_survey_answer_response_id": "response_id",
    "ix_survey_answer_survey_id_question_id": "survey_id, question_id",
}
KEY_FK = (
    "ADD CONSTRAINT fk_survey_answer_response_id_survey_response_key "
    "FOREIGN KEY (response_id) REFERENCES survey_response_key (id) ON DELETE CASCADE"
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _keys_and_indexes(primary_key: str) -> None:
    """The rebuilt table's primary key on `primary_key`, its reference to the response key and its
    indexes (PostgreSQL)."""
    op.execute(f"ALTER TABLE {T} ADD CONSTRAINT pk_survey_answer PRIMARY KEY ({primary_key})")
    op.execute(f"ALTER TABLE {T} {KEY_FK}")
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {T} ({columns})")


def upgrade() -> None:
    if not _postgres():
        with op.batch_alter_table(T, recreate="always") as batch_op:
            batch_op.create_primary_key("pk_survey_answer", ["id", "responded_at"])
        return
    op.execute(f"ALTER TABLE {T} RENAME TO {OLD}")
    # Names of index-backed constraints and indexes are schema-wide: free them for the new table.
    op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT pk_survey_answer")
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute(
        f"CREATE TABLE {T} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (responded_at)"
    )
    op.execute(f"ALTER SEQUENCE {SEQ} OWNED BY {T}.id")  # not dropped with the old table
    _keys_and_indexes("id, responded_at")
    fill_partitioned(op.get_bind(), T, "responded_at", OLD)
    op.execute(f"DROP TABLE {OLD}")


def downgrade() -> None:
    if not _postgres():
        with op.batch_alter_table(T, recreate="always") as batch_op:
            batch_op.create_primary_key("pk_survey_answer", ["id"])
        return
    op.execute(f"ALTER SEQUENCE {SEQ} OWNED BY NONE")  # kept through the rebuild
    unpartition(op.get_bind(), T)
    op.execute(f"ALTER SEQUENCE {SEQ} OWNED BY {T}.id")
    _keys_and_indexes("id")
