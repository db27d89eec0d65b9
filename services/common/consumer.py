"""Consumes another service's event feed: polls it over HTTP (never inside a transaction), then
applies a batch of events and the stored cursor in one transaction, so each event is applied
exactly once across crashes, restarts and competing replicas."""

import logging
import threading
from collections.abc import Callable

import httpx
from sqlalchemy import Column, String, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.common.db import BigIntPK, Database, UTCDateTime, utcnow
from services.common.outbox import Event, EventPage

log = logging.getLogger("consumer")
Handler = Callable[[Session, Event], None]


def _insert_for(s: Session):
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


def consumer_cursor_table(metadata) -> Table:
    return Table(
        "consumer_cursor",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("position", BigIntPK, nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


class FeedConsumer:
    def __init__(
        self,
        *,
        name: str,
        db: Database,
        cursor_table: Table,
        handlers: dict[str, Handler],
        client: httpx.Client,
        feed_url: str,
        token: Callable[[], str],
        batch_size: int = 500,
    ):
        self.name, self.db, self.table, self.handlers = name, db, cursor_table, handlers
        self.client, self.feed_url, self.token, self.batch_size = client, feed_url, token, batch_size
        self.head_position = 0

    def position(self) -> int:
        with self.db.read() as s:
            pos = s.execute(select(self.table.c.position).where(self.table.c.consumer == self.name)).scalar()
        return pos or 0

    def lag(self) -> int:
        return max(0, self.head_position - self.position())

    def fetch(self, after: int) -> EventPage:
        resp = self.client.get(
            self.feed_url,
            params={"after": after, "limit": self.batch_size},
            headers={"Authorization": f"Bearer {self.token()}"},
        )
        resp.raise_for_status()
        return EventPage.model_validate(resp.json())

    def apply(self, events: list[Event]) -> int:
        """Applies the events after the stored cursor and moves it, in one transaction. Returns how many."""
        with self.db.write() as s:
            stmt = select(self.table.c.position).where(self.table.c.consumer == self.name)
            if s.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            current = s.execute(stmt).scalar()
            if current is None:  # first run: replicas may race to create the row
                s.execute(
                    _insert_for(s)(self.table)
                    .values(consumer=self.name, position=0, updated_at=utcnow())
                    .on_conflict_do_nothing()
                )
                current = s.execute(stmt).scalar_one()
            fresh = [e for e in events if e.position > current]
            for event in fresh:
                handler = self.handlers.get(event.type)
                if handler is not None:
                    handler(s, event)
            if fresh:
                s.execute(
                    update(self.table)
                    .where(self.table.c.consumer == self.name)
                    .values(position=fresh[-1].position, updated_at=utcnow())
                )
            s.commit()
        return len(fresh)

    def poll_once(self) -> int:
        page = self.fetch(self.position())
        self.head_position = page.head_position
        return self.apply(page.items) if page.items else 0

    def run(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        while not stop.is_set():
            try:
                applied = self.poll_once()
            except Exception as err:  # noqa: BLE001 - keep polling; the next poll retries the same batch
                log.warning("feed poll failed", extra={"fields": {"consumer": self.name, "error": type(err).__name__}})
                applied = 0
            if applied == 0:
                stop.wait(idle_seconds)


class ConsumerThread:
    """Runs a FeedConsumer's poll loop in a daemon thread from a service's lifespan:
    `start()` at startup, `stop()` at shutdown (waits for the current batch to finish)."""

    def __init__(self, consumer: FeedConsumer, idle_seconds: float = 1.0):
        self.consumer = consumer
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.consumer.run, args=(self._stop, self.idle_seconds),
                                        name=f"consumer-{self.consumer.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def lag_check(consumer: FeedConsumer, max_lag: int):
    """A readiness check (see services.common.health): ready while the consumer is at most
    `max_lag` events behind the feed head it last saw."""

    def check() -> tuple[bool, str]:
        lag = consumer.lag()
        return lag <= max_lag, f"{lag} events behind {consumer.name}'s feed"

    return check
