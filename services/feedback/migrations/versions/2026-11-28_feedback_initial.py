"""feedback initial: customer read model, code lists (loaded from jrt0169_codes.json), complaints and
their steps, surveys, responses, answers, follow-ups, invitations, outbox, idempotency, consumer cursor.

Revision ID: 4155e1bc9d24
Revises:
Create Date: 2026-11-28 20:09:09.699301
"""

import json
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

import services.common.db  # noqa: F401 - shared column types

revision: str = "4155e1bc9d24"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JR/T 0169-2018 code lists are data: the file as it stood when this revision was written.
CODES_FILE = Path(__file__).parents[1] / "jrt0169_codes.json"


def _code_rows() -> list[dict]:
    lists = json.loads(CODES_FILE.read_text(encoding="utf-8"))
    return [
        {"list_name": name, "code": code, "label_zh": zh, "label_en": en, "position": i}
        for name, entries in lists.items()
        if not name.startswith("_")
        for i, (code, zh, en) in enumerate(entries)
    ]


def upgrade() -> None:
    code_entry = op.create_table(
        "code_entry",
        sa.Column("list_name", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label_zh", sa.String(length=60), nullable=False),
        sa.Column("label_en", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("list_name", "code", name=op.f("pk_code_entry")),
    )
    op.bulk_insert(code_entry, _code_rows())
    op.create_table(
        "complaint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("complainant_name_enc", sa.String(length=400), nullable=True),
        sa.Column("complainant_contact_enc", sa.String(length=400), nullable=True),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("business_type", sa.String(length=40), nullable=False),
        sa.Column("cause", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=False),
        sa.Column("staff_complained_about", sa.String(length=100), nullable=True),
        sa.Column("representative_enc", sa.String(length=1200), nullable=True),
        sa.Column("related_complaint_id", sa.Uuid(), nullable=True),
        sa.Column("handler_sub", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("received_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('received', 'acknowledged', 'investigating', 'decided', 'closed', 'withdrawn', 'review_requested', 'review_decided')",
            name=op.f("ck_complaint_state"),
        ),
        sa.CheckConstraint("amount_fen IS NULL OR amount_fen >= 0", name=op.f("ck_complaint_amount_fen")),
        sa.ForeignKeyConstraint(
            ["related_complaint_id"], ["complaint.id"], name=op.f("fk_complaint_related_complaint_id_complaint")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint")),
    )
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_branch_code"), ["branch_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_complaint_state_received_at", ["state", "received_at"], unique=False)

    op.create_table(
        "consumer_cursor",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_consumer_cursor")),
    )
    op.create_table(
        "customer_ref",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("customer_no", sa.String(length=12), nullable=True),
        sa.Column("customer_type", sa.String(length=16), nullable=True),
        sa.Column("region_type", sa.String(length=16), nullable=True),
        sa.Column("branch_code", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_ref")),
    )
    with op.batch_alter_table("customer_ref", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_ref_branch_code"), ["branch_code"], unique=False)

    op.create_table(
        "customer_segment",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("scheme", sa.String(length=80), nullable=False),
        sa.Column("segment_class", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "scheme", name=op.f("pk_customer_segment")),
    )
    with op.batch_alter_table("customer_segment", schema=None) as batch_op:
        batch_op.create_index("ix_customer_segment_scheme_class", ["scheme", "segment_class"], unique=False)

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
        "survey",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("audience_kind", sa.String(length=10), nullable=False),
        sa.Column("audience_value", sa.String(length=120), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("opens_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("allow_update", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint("audience_kind IN ('all', 'branch', 'segment')", name=op.f("ck_survey_audience_kind")),
        sa.CheckConstraint("state IN ('draft', 'published')", name=op.f("ck_survey_state")),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_survey")),
    )
    op.create_table(
        "survey_response",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("survey_version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=True),
        sa.Column("region_type", sa.String(length=16), nullable=True),
        sa.Column("customer_type", sa.String(length=16), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("ces", sa.Integer(), nullable=True),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("responded_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response")),
    )
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.create_index("ix_survey_response_survey_id_customer_id", ["survey_id", "customer_id"], unique=True)

    op.create_table(
        "complaint_step",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("actor_sub", sa.String(length=100), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaint.id"], name=op.f("fk_complaint_step_complaint_id_complaint")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_step")),
    )
    with op.batch_alter_table("complaint_step", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_step_complaint_id_id", ["complaint_id", "id"], unique=False)

    op.create_table(
        "follow_up",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.Column("completed_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'done')", name=op.f("ck_follow_up_status")),
        sa.ForeignKeyConstraint(
            ["response_id"], ["survey_response.id"], name=op.f("fk_follow_up_response_id_survey_response")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_branch_code_status", ["branch_code", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_up_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "survey_answer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("responded_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("question_id", sa.String(length=40), nullable=False),
        sa.Column("value_int", sa.Integer(), nullable=True),
        sa.Column("choice", sa.String(length=80), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["survey_response.id"],
            name=op.f("fk_survey_answer_response_id_survey_response"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answer")),
    )
    with op.batch_alter_table("survey_answer", schema=None) as batch_op:
        batch_op.create_index("ix_survey_answer_response_id", ["response_id"], unique=False)
        batch_op.create_index("ix_survey_answer_survey_id_question_id", ["survey_id", "question_id"], unique=False)

    op.create_table(
        "survey_invitation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaint.id"], name=op.f("fk_survey_invitation_complaint_id_complaint")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitation")),
    )
    with op.batch_alter_table("survey_invitation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_invitation_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("survey_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_invitation_customer_id"))

    op.drop_table("survey_invitation")
    with op.batch_alter_table("survey_answer", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_answer_survey_id_question_id")
        batch_op.drop_index("ix_survey_answer_response_id")

    op.drop_table("survey_answer")
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_customer_id"))
        batch_op.drop_index("ix_follow_up_branch_code_status")

    op.drop_table("follow_up")
    with op.batch_alter_table("complaint_step", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_step_complaint_id_id")

    op.drop_table("complaint_step")
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_response_survey_id_customer_id")

    op.drop_table("survey_response")
    op.drop_table("survey")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_subject_id"))

    op.drop_table("outbox_event")
    op.drop_table("idempotency_record")
    with op.batch_alter_table("customer_segment", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_segment_scheme_class")

    op.drop_table("customer_segment")
    with op.batch_alter_table("customer_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_ref_branch_code"))

    op.drop_table("customer_ref")
    op.drop_table("consumer_cursor")
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_state_received_at")
        batch_op.drop_index(batch_op.f("ix_complaint_customer_id"))
        batch_op.drop_index(batch_op.f("ix_complaint_branch_code"))

    op.drop_table("complaint")
    op.drop_table("code_entry")
