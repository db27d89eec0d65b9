"""free_text_encrypted: complaint descriptions, step notes and the free text in step data, survey
free-text answers and follow-up notes are encrypted at rest (a data migration, no schema change).

Rows written before are encrypted here with the first key of FEEDBACK_PII_KEYS (the settings the
service runs with); the downgrade decrypts them again. A value already encrypted, None or the
"[erased]" marker is left as it is, so running it on a database written by both versions is safe.

Revision ID: a54addb53239
Revises: 28bc39ed01df
Create Date: 2026-12-05 20:22:55.051780
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from services.common.pii import PersonalDataVault
from services.common.sealing_migration import Convert, convert_columns, decrypting, encrypting
from services.feedback.config import FeedbackSettings

revision: str = "a54addb53239"
down_revision: str | None = "28bc39ed01df"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The field names the service binds into each ciphertext (services.feedback.service.free_text), frozen here.
COLUMNS = (
    ("complaint", "id", "description", "complaint.description"),
    ("complaint_step", "id", "note", "complaint_step.note"),
    ("survey_answer", "id", "text", "survey_answer.text"),
    ("follow_up", "id", "note", "follow_up.note"),
)
STEP_TEXT_KEYS = ("reason", "facts_verified", "basis", "description")


def _vault() -> PersonalDataVault:
    return PersonalDataVault(FeedbackSettings().pii_keys, "")


def _step_data(data: dict[str, Any], apply: Convert) -> dict[str, Any]:
    out = dict(data or {})
    for key in STEP_TEXT_KEYS:
        if isinstance(out.get(key), str):
            out[key] = apply(out[key], f"complaint_step.data.{key}")
    remedy = out.get("remedy")
    if isinstance(remedy, dict) and isinstance(remedy.get("description"), str):
        out["remedy"] = {
            **remedy,
            "description": apply(remedy["description"], "complaint_step.data.remedy.description"),
        }
    return out


def _convert(apply: Convert) -> None:
    conn = op.get_bind()
    convert_columns(conn, COLUMNS, apply)
    step = sa.table("complaint_step", sa.column("id"), sa.column("data", sa.JSON()))
    for row_id, data in conn.execute(sa.select(step.c.id, step.c.data)).all():
        new_data = _step_data(data, apply)
        if new_data != (data or {}):
            conn.execute(sa.update(step).where(step.c.id == row_id).values(data=new_data))


def upgrade() -> None:
    _convert(encrypting(_vault()))


def downgrade() -> None:
    _convert(decrypting(_vault()))
