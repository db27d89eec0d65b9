"""Transactional outbox: events written in the writer's transaction, served as an ordered, replayable
feed. On PostgreSQL, identity values can commit out of order, so every outbox insert first takes a
transaction-scoped advisory lock: positions are then handed out in commit order and a reader that
sees position N has already been able to see every position below it."""

import asyncio
import uuid
import zlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import JSON, Column, MetaData, String, Table, func, insert, select, text
from sqlalchemy.orm import Session

from services.common.access import SystemOrAdminEventsRead
from services.common.db import BigIntPK, UTCDateTime, utcnow
from services.common.errors import problem_responses
from services.common.feed_wait import closing, mark_outbox_write, signal_for

MAX_WAIT_SECONDS = 30
RECHECK_SECONDS = 1.0  # how soon a long poll sees a commit made by another process


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox_event",
        metadata,
        Column("position", BigIntPK, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("type", String(100), nullable=False),
        Column("occurred_at", UTCDateTime(), nullable=False),
        Column("subject_id", String(64), nullable=False, index=True),
        Column("data", JSON, nullable=False),
    )


class Event(BaseModel):
    position: int
    event_id: str
    type: str
    occurred_at: datetime
    subject_id: str
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[Event]
    last_position: int  # pass as `after` for the next page
    head_position: int  # the newest position; head - last is how far behind a reader is


def serialise_outbox_writes(session: Session, table: Table) -> None:
    """Takes the transaction-scoped lock that hands out outbox positions in commit order (PostgreSQL;
    SQLite writers are serialised already). Any code that inserts into an outbox, one row or many,
    takes it first, just before commit."""
    mark_outbox_write(session, table.name)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"outbox:{table.name}".encode())})


def record_event(
    session: Session,
    table: Table,
    *,
    type: str,
    subject_id: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> None:
    """Call last in the unit of work, just before commit, to keep the serialising lock short."""
    serialise_outbox_writes(session, table)
    session.execute(
        insert(table).values(
            event_id=str(uuid.uuid4()), type=type, occurred_at=occurred_at or utcnow(), subject_id=subject_id, data=data
        )
    )


def feed_head(session: Session, table: Table) -> int:
    """The newest position on an outbox feed (0 when empty): one index lookup."""
    return int(session.execute(select(func.coalesce(func.max(table.c.position), 0))).scalar_one())


def read_feed(session: Session, table: Table, *, after: int, limit: int) -> EventPage:
    rows = (
        session.execute(select(table).where(table.c.position > after).order_by(table.c.position).limit(limit))
        .mappings()
        .all()
    )
    head = feed_head(session, table)
    items = [Event(**r) for r in rows]
    return EventPage(items=items, last_position=items[-1].position if items else after, head_position=head)


def feed_router(table: Table, recheck_seconds: float = RECHECK_SECONDS) -> APIRouter:
    """GET /v1/events for other services (system role); the gateway does not route it."""
    router = APIRouter(tags=["events"])
    signal = signal_for(table.name)

    @router.get(
        "/v1/events",
        response_model=EventPage,
        responses=problem_responses(401, 403, 422),
        summary="The ordered, replayable event feed (system role)",
        description="With `wait`, an empty answer is held until an event after `after` commits or `wait` "
        "seconds pass (long polling); without it the page is answered at once.",
    )
    async def events(
        request: Request,
        _p: SystemOrAdminEventsRead,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS, description="seconds to hold an empty answer")] = 0,
    ) -> EventPage:
        db = request.app.state.db

        def read() -> EventPage:
            with db.read() as session:
                return read_feed(session, table, after=after, limit=limit)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            seen = signal.version
            page = await run_in_threadpool(read)
            remaining = deadline - loop.time()
            if page.items or remaining <= 0 or closing():
                return page
            await signal.wait(seen, min(remaining, recheck_seconds))

    return router
