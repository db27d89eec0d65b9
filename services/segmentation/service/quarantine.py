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
from sqlalchemy.orm import Session

from services.common.db import upsert_insert
from services.common.outbox import Event
from services.segmentation.models import event_quarantine
from services.segmentation.service.classify import lock_classification
from services.segmentation.service.event_checks import problem_with

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


def _record(
    s: Session, *, feed: str, position: int, event_id, type_, subject_id, data, error: str, now: datetime
) -> None:
    s.execute(
        upsert_insert(s)(event_quarantine)
        .values(
            feed=feed,
            position=position,
            event_id=_text(event_id, 64),
            type=_text(type_, 100),
            subject_id=_text(subject_id, 64),
            data=data if isinstance(data, dict) else None,
            error=error[:500],
            quarantined_at=now,
        )
        .on_conflict_do_nothing()
    )
    log.warning(
        "event quarantined",
        extra={"fields": {"feed": feed, "position": position, "type": _text(type_, 100), "error": error[:200]}},
    )


def _text(value, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def set_aside(s: Session, *, feed: str, event: Event, error: str, now: datetime) -> None:
    _record(
        s,
        feed=feed,
        position=event.position,
        event_id=event.event_id,
        type_=event.type,
        subject_id=event.subject_id,
        data=event.data,
        error=error,
        now=now,
    )


def item_hook(
    feed: str,
    clock: Callable[[], datetime],
    on_quarantine: OnQuarantine | None = None,
    known: frozenset[str] = frozenset(),
):
    """FeedConsumer's `set_aside` hook: a page item whose envelope is malformed (FeedConsumer read its
    position; the rest may be missing or of any type) is kept in event_quarantine like a malformed
    event, in the batch's transaction. `on_quarantine` hears its type only when it is one of `known`
    (else "unknown"): a metric label must not take whatever a broken feed sends."""

    def hook(s: Session, _consumer: str, item: dict, error: str) -> None:
        kind = item.get("type")
        _record(
            s,
            feed=feed,
            position=int(item["position"]),
            event_id=item.get("event_id"),
            type_=kind,
            subject_id=item.get("subject_id"),
            data=item.get("data"),
            error=f"envelope: {error}",
            now=clock(),
        )
        if on_quarantine is not None:
            on_quarantine(feed, kind if kind in known else "unknown")

    return hook


def guarded(
    feed: str, handler: Handler, clock: Callable[[], datetime], on_quarantine: OnQuarantine | None = None
) -> Handler:
    """`handler`, with malformed events set aside instead of failing the batch."""

    def quarantine(s: Session, event: Event, error: str) -> None:
        set_aside(s, feed=feed, event=event, error=error, now=clock())
        if on_quarantine is not None:
            on_quarantine(feed, event.type)

    def handle(s: Session, event: Event) -> None:
        lock_classification(s)  # before any feature is written (classify.lock_classification)
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
