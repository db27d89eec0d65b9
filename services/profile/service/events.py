"""Bulk writes for the batch paths: many rows in one statement (COPY on PostgreSQL), and many outbox
events at once. Transactions arrive a thousand at a time, and one insert per row would cost more
than the rows themselves (psycopg's executemany still sends one statement per row)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table, exc, insert
from sqlalchemy.orm import Session

from services.common.outbox import serialise_outbox_writes
from services.profile.models import outbox


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Inserts `rows` (all with the same keys) in the session's transaction: COPY on PostgreSQL, one
    executemany on SQLite. Values must already be in their stored form (aware UTC datetimes, fen)."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    import psycopg  # here, not at the top: a process on SQLite never loads the driver (a few MB)
    from psycopg.types.json import Json

    columns = list(rows[0])
    json_cols = {c for c in columns if isinstance(table.c[c].type, JSON)}
    driver = session.connection().connection.driver_connection
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    try:
        with driver.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row([Json(row[c]) if c in json_cols else row[c] for c in columns])
    except psycopg.IntegrityError as err:
        # Raised past SQLAlchemy: wrap it so callers handle one kind of integrity error.
        raise exc.IntegrityError(statement, None, err) from err


def record_events(session: Session, events: list[tuple[str, str, dict[str, Any]]], occurred_at: datetime) -> None:
    """(type, subject_id, data) each; call last before commit. Takes the same PostgreSQL advisory lock
    as services.common.outbox.record_event, so positions are still handed out in commit order."""
    if not events:
        return
    serialise_outbox_writes(session, outbox)
    rows = [
        {"event_id": str(uuid.uuid4()), "type": t, "occurred_at": occurred_at, "subject_id": sid, "data": data}
        for t, sid, data in events
    ]
    bulk_insert(session, outbox, rows)
