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
