"""Setting aside events from another service's feed that cannot be applied as they stand, so one bad
event does not stall the feed: the event's shape is checked first (event_checks.py), then its
handler runs inside a savepoint; a deterministic failure (a missing or wrong-typed field, a value
the database refuses) rolls back only that event's work and records it in event_quarantine, in the
batch's transaction, so the cursor moves past it. Anything else (a lost connection, a lock timeout,
a conflict) propagates: the batch is rolled back and retried."""

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.common.outbox import Event
from services.segmentation.event_checks import problem_with
from services.segmentation.models import event_quarantine

log = logging.getLogger("segmentation.quarantine")
Handler = Callable[[Session, Event], None]
OnQuarantine = Callable[[str, str], None]  # (feed, event type), e.g. a counter
# Errors that the same event raises again on every retry. Connection losses, lock timeouts and
# serialisation failures (OperationalError, InterfaceError, InternalError) and integrity
# conflicts are not among them.
DETERMINISTIC = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, exc.DataError)


def _is_deterministic(err: Exception) -> bool:
    if isinstance(err, exc.DBAPIError):
        return isinstance(err, exc.DataError)
    if isinstance(err, exc.StatementError):  # a value that could not be bound: wrong type
        return isinstance(err.orig, DETERMINISTIC)
    return isinstance(err, DETERMINISTIC)


def set_aside(s: Session, *, feed: str, event: Event, error: str, now: datetime) -> None:
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    data = event.data if isinstance(event.data, dict) else None
    s.execute(
        insert(event_quarantine)
        .values(
            feed=feed,
            position=event.position,
            event_id=str(event.event_id)[:64],
            type=str(event.type)[:100],
            subject_id=str(event.subject_id)[:64],
            data=data,
            error=error[:500],
            quarantined_at=now,
        )
        .on_conflict_do_nothing()
    )
    log.warning(
        "event quarantined",
        extra={"fields": {"feed": feed, "position": event.position, "type": event.type, "error": error[:200]}},
    )


def guarded(
    feed: str, handler: Handler, clock: Callable[[], datetime], on_quarantine: OnQuarantine | None = None
) -> Handler:
    """`handler`, with malformed events set aside instead of failing the batch."""

    def quarantine(s: Session, event: Event, error: str) -> None:
        set_aside(s, feed=feed, event=event, error=error, now=clock())
        if on_quarantine is not None:
            on_quarantine(feed, event.type)

    def handle(s: Session, event: Event) -> None:
        problem = problem_with(event.type, event.subject_id, event.data)
        if problem is not None:
            return quarantine(s, event, problem)
        try:
            with s.begin_nested():
                handler(s, event)
        except Exception as err:
            if not _is_deterministic(err):
                raise
            quarantine(s, event, f"{type(err).__name__} while applying the event")

    return handle


def forget_subject(s: Session, *, subject_id: str) -> None:
    """An erased customer's quarantined events go too."""
    s.execute(delete(event_quarantine).where(event_quarantine.c.subject_id == subject_id))
