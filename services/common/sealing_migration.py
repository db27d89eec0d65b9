"""Data migrations that encrypt free-text columns written before they were encrypted (and decrypt
them again on downgrade), for the services' Alembic histories. Each value is bound to its field name
as the service binds it; None, the ERASED marker and values already encrypted are left as they are."""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.common.pii import PersonalDataVault

Convert = Callable[[str, str], str]
# (table, key column, text column, field name bound into the ciphertext)
TextColumn = tuple[str, str, str, str]


def encrypting(vault: PersonalDataVault) -> Convert:
    def apply(value: str, field: str) -> str:
        if vault.unseal(value, field) != value:  # already a ciphertext of this keyring
            return value
        return vault.seal(value, field) or value

    return apply


def decrypting(vault: PersonalDataVault) -> Convert:
    return lambda value, field: vault.unseal(value, field) or value


def convert_columns(conn: Connection, columns: Sequence[TextColumn], apply: Convert) -> None:
    """Rewrites every non-null value of each column with `apply`, row by row."""
    for table_name, key, column, field in columns:
        table = sa.table(table_name, sa.column(key), sa.column(column))
        rows = conn.execute(sa.select(table.c[key], table.c[column]).where(table.c[column].is_not(None))).all()
        for row_id, value in rows:
            new = apply(value, field)
            if new != value:
                conn.execute(sa.update(table).where(table.c[key] == row_id).values({column: new}))


# The approval requests' free text (services.common.approvals): the payload keys that hold typed text and
# the rejection note, with the field names bound into their ciphertexts, frozen here for the migrations.
APPROVAL_PAYLOAD_KEYS = ("reason", "note")
APPROVAL_NOTE: TextColumn = ("approval_request", "id", "note", "approval_request.note")


def convert_approvals(conn: Connection, apply: Convert) -> None:
    """`apply` on the rejection note and on each free-text value of every approval request's payload."""
    convert_columns(conn, [APPROVAL_NOTE], apply)
    table = sa.table("approval_request", sa.column("id"), sa.column("payload", sa.JSON()))
    for row_id, payload in conn.execute(sa.select(table.c.id, table.c.payload)).all():
        if not isinstance(payload, dict):
            continue
        new = {
            k: apply(v, f"approval_request.payload.{k}") if k in APPROVAL_PAYLOAD_KEYS and isinstance(v, str) else v
            for k, v in payload.items()
        }
        if new != payload:
            conn.execute(sa.update(table).where(table.c.id == row_id).values(payload=new))
