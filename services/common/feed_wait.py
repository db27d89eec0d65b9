"""Long polling for the event feeds: `GET /v1/events?after=N&wait=S` answers as soon as an event
after N commits. A commit that wrote outbox rows (every writer takes serialise_outbox_writes first,
which marks the session) wakes the feed's waiting requests in this process at once; writers in other
processes (replicas) are seen by a re-read every `recheck` seconds, so a wait never depends on a
wake-up arriving."""

import asyncio
import threading
from collections import defaultdict

from sqlalchemy import event
from sqlalchemy.orm import Session

_PENDING = "outbox_tables_written"


class FeedSignal:
    """Wakes the asyncio waiters of one outbox from whichever thread committed to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def version(self) -> int:
        return self._version

    def notify(self) -> None:
        with self._lock:
            self._version += 1
            waiters = list(self._waiters)
        for loop, ready in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(ready.set)

    async def wait(self, seen: int, timeout: float) -> None:
        """Returns when a commit after version `seen` happened (at once if one did), or after `timeout`."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            if self._version != seen:
                return
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(waiter)


_signals: defaultdict[str, FeedSignal] = defaultdict(FeedSignal)
_closing = threading.Event()


def release_waiters() -> None:
    """The server is shutting down: every held long poll answers now (with what it has), instead of
    holding the shutdown for up to its wait (services.common.serve calls this)."""
    _closing.set()
    for signal in list(_signals.values()):
        signal.notify()


def closing() -> bool:
    return _closing.is_set()


def signal_for(table_name: str) -> FeedSignal:
    return _signals[table_name]


def mark_outbox_write(session: Session, table_name: str) -> None:
    """Called by the outbox's writers: the session's commit will wake the feed's long polls."""
    session.info.setdefault(_PENDING, set()).add(table_name)


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    for name in session.info.pop(_PENDING, ()):
        _signals[name].notify()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
