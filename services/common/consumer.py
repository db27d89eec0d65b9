"""Consumes another service's event feed: polls it over HTTP (never inside a transaction), then
applies a batch of events and the stored cursor in one transaction, so each event is applied
exactly once across crashes, restarts and competing replicas. A page item whose envelope is
malformed is set aside in that same transaction instead of stalling the feed (docs/events.md)."""

import heapq
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError
from sqlalchemy import Column, MetaData, String, Table, select, update
from sqlalchemy.orm import Session

from services.common.auth import mint_for, mint_token
from services.common.config import BaseServiceSettings
from services.common.db import BigIntPK, Database, UTCDateTime, update_rows, upsert_insert, utcnow
from services.common.outbox import Event

log = logging.getLogger("consumer")
Handler = Callable[[Session, Event], None]
SetAside = Callable[[Session, str, dict[str, Any], str], None]  # (session, consumer name, raw item, error)


class UnreadablePage(ValueError):
    """A page the cursor cannot safely move through; the poll loop retries it."""


class _RawPage(BaseModel):  # the page's own shape: failing this is not a page at all
    items: list[Any]
    last_position: int
    head_position: int


class _Positioned(BaseModel):  # an item's position, read by the same rule as Event.position
    position: int


@dataclass(frozen=True)
class MalformedItem:
    position: int
    item: dict[str, Any]  # as the feed served it
    error: str  # "<field>: <problem>; ...", never the values
    fields: tuple[str, ...]


class Batch(list[Event]):
    """One page's valid events in feed order, carrying the page's malformed items and head along, so
    that they reach apply()'s transaction through a subclass whose apply(events) passes the list on."""

    def __init__(
        self,
        events: Iterable[Event] = (),
        malformed: Iterable[MalformedItem] = (),
        head_position: int = 0,
        cursor: str | None = None,
    ):
        super().__init__(events)
        self.malformed = list(malformed)
        self.head_position = head_position
        self.cursor = cursor  # the cursor row it moves: the consumer's own unless named (a partition's)
        self.parts: list[Batch] | None = None


def together(parts: list[Batch]) -> Batch:
    """Batches of several cursors (a broker's partitions) as one, that apply() applies in one
    transaction, each part after its own cursor and moving it; iterating gives every part's events."""
    batch = Batch(
        [e for p in parts for e in p],
        [m for p in parts for m in p.malformed],
        max((p.head_position for p in parts), default=0),
    )
    batch.parts = parts
    return batch


def parse_page(body: Any) -> Batch:
    """Validates a feed page item by item. Raises ValidationError when `body` is not a page, and
    UnreadablePage for a malformed item whose position is not a readable integer or lies beyond the
    page's head: moving the cursor past it could lose an unknown range of events."""
    page = _RawPage.model_validate(body)
    events, malformed = [], []
    for item in page.items:
        try:
            events.append(Event.model_validate(item))
        except ValidationError as err:
            malformed.append(_malformed(item, err, page.head_position))
    return Batch(events, malformed, page.head_position)


def _malformed(item: Any, err: ValidationError, head: int) -> MalformedItem:
    try:
        position = _Positioned.model_validate(item).position
    except ValidationError:
        # `from None`: the validation error's text would quote the item, payload included
        raise UnreadablePage("a feed item without a readable integer position") from None
    if position > head:
        raise UnreadablePage(f"a malformed feed item at {position}, beyond the feed's head {head}")
    problems = [(".".join(map(str, e["loc"])), e["msg"]) for e in err.errors(include_url=False, include_input=False)]
    return MalformedItem(
        position, item, "; ".join(f"{loc}: {msg}" for loc, msg in problems), tuple(loc for loc, _ in problems)
    )


def consumer_cursor_table(metadata: MetaData) -> Table:
    return Table(
        "consumer_cursor",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("position", BigIntPK, nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


ERASURE_EVENT = "customer.erased"  # profile's: every follower removes what it holds of the person


class FeedConsumer:
    """`set_aside`, if given, is called in the batch's transaction for each malformed item the cursor
    moves past (it raising rolls the batch back); without it each one is logged. Either way it is
    counted in `set_aside_count` once its batch has committed.

    `wait_seconds` > 0: once caught up with the feed, each poll is a long poll that the feed holds
    until an event commits (docs/events.md); 0 polls every `idle_seconds` instead. `feed` names the
    feed's owner in metrics and readiness (the consumer's name by default)."""

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
        set_aside: SetAside | None = None,
        wait_seconds: float = 0.0,
        feed: str | None = None,
    ):
        self.name, self.db, self.table, self.handlers = name, db, cursor_table, handlers
        self.client, self.feed_url, self.token, self.batch_size = client, feed_url, token, batch_size
        self.set_aside = set_aside
        self.wait_seconds = wait_seconds
        self.feed = feed or name
        self.head_position = 0
        self.set_aside_count = 0
        self.health = PollHealth()
        self._position = 0  # the cursor as this process last read or moved it
        self._caught_up = False
        self._busy = threading.Lock()  # held while the database is used; stop() takes it

    def position(self) -> int:
        with self.db.read() as s:
            pos = s.execute(select(self.table.c.position).where(self.table.c.consumer == self.name)).scalar()
        self._position = pos or 0
        return self._position

    def lag(self) -> int:
        """Events behind the head the last poll saw, from the cursor this process last read or moved."""
        return max(0, self.head_position - self._position)

    def fetch(self, after: int, wait: float = 0.0) -> Batch:
        params: dict[str, int | float] = {"after": after, "limit": self.batch_size}
        if wait > 0:
            params["wait"] = wait
        timeout = httpx.Timeout(10.0, read=wait + 10.0)  # a long poll is held for up to `wait` seconds
        resp = self.client.get(
            self.feed_url, params=params, headers={"Authorization": f"Bearer {self.token()}"}, timeout=timeout
        )
        resp.raise_for_status()
        try:
            return parse_page(resp.json())
        except ValueError as err:  # not JSON at all: the same as a page of the wrong shape
            if isinstance(err, UnreadablePage | ValidationError):
                raise
            raise UnreadablePage("the feed answered with something that is not JSON") from None

    def apply(self, events: list[Event]) -> int:
        """Applies the events after the stored cursor and, when `events` is a Batch, sets aside its
        malformed items after it; moves the cursor past both, in one transaction. Returns how many
        items the cursor moved past. A Batch made by together() does this for each of its parts, with
        each part's cursor (locked in name order), in one transaction."""
        parts: list[list[Event]] = getattr(events, "parts", None) or [events]
        applied, fresh_all, aside_all, position = 0, [], [], None
        with self.db.write() as s:
            parts = sorted(parts, key=lambda p: getattr(p, "cursor", None) or self.name)
            cursors = self._lock_cursors(s, [getattr(p, "cursor", None) or self.name for p in parts])
            moved: dict[str, int] = {}
            for part in parts:
                cursor = getattr(part, "cursor", None) or self.name
                current = cursors[cursor]
                fresh = [e for e in part if e.position > current]
                aside = [m for m in getattr(part, "malformed", []) if m.position > current]
                last = None
                # feed order: a hook sees a set-aside item before a later event about the same subject (an erasure)
                for item in heapq.merge(fresh, aside, key=attrgetter("position")):
                    if isinstance(item, MalformedItem):
                        if self.set_aside is not None:
                            self.set_aside(s, self.name, item.item, item.error)
                    elif (handler := self.handlers.get(item.type)) is not None:
                        handler(s, item)
                    last = item.position
                if last is not None:
                    moved[cursor] = last
                if cursor == self.name:
                    position = last if last is not None else current
                applied += len(fresh) + len(aside)
                fresh_all += fresh
                aside_all += aside
            now = utcnow()
            if len(moved) == 1:
                [(cursor, last)] = moved.items()
                s.execute(
                    update(self.table).where(self.table.c.consumer == cursor).values(position=last, updated_at=now)
                )
            elif moved:
                rows = [{"consumer": c, "position": p, "updated_at": now} for c, p in moved.items()]
                update_rows(s, self.table, "consumer", rows)
            s.commit()
        if position is not None:
            self._position = position
        self._report(aside_all)
        if any(e.type == ERASURE_EVENT for e in fresh_all):
            self.db.scrub_files()  # the erased values leave the files too, not only the tables
        return applied

    def _lock_cursors(self, s: Session, cursors: list[str]) -> dict[str, int]:
        """The positions of these cursor rows, locked (in name order, on PostgreSQL) in one query; a
        row not there yet is made as _lock_cursor makes it."""
        if len(cursors) == 1:
            return {cursors[0]: self._lock_cursor(s, cursors[0])}
        stmt = (
            select(self.table.c.consumer, self.table.c.position)
            .where(self.table.c.consumer.in_(cursors))
            .order_by(self.table.c.consumer)
        )
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        found = {c: int(p) for c, p in s.execute(stmt).all()}
        for cursor in cursors:
            if cursor not in found:
                found[cursor] = self._lock_cursor(s, cursor)
        return found

    def _lock_cursor(self, s: Session, cursor: str) -> int:
        stmt = select(self.table.c.position).where(self.table.c.consumer == cursor)
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        current = s.execute(stmt).scalar()
        if current is None:  # first run: replicas may race to create the row
            # A partition's cursor starts where the consumer's own (HTTP) cursor stands: the events at or
            # below it were applied already, before the consumer moved to JetStream.
            start = 0
            if cursor != self.name:
                own = select(self.table.c.position).where(self.table.c.consumer == self.name)
                start = int(s.execute(own).scalar() or 0)
            s.execute(
                upsert_insert(s)(self.table)
                .values(consumer=cursor, position=start, updated_at=utcnow())
                .on_conflict_do_nothing()
            )
            current = s.execute(stmt).scalar_one()
        return int(current)

    def _report(self, aside: list[MalformedItem]) -> None:
        """After the commit, so an item is counted once however often its batch was retried."""
        self.set_aside_count += len(aside)
        if self.set_aside is not None:
            return
        for m in aside:
            kind = m.item.get("type")
            log.warning(
                "malformed feed item set aside",
                extra={
                    "fields": {
                        "consumer": self.name,
                        "position": m.position,
                        "type": kind[:100] if isinstance(kind, str) else None,
                        "invalid_fields": ",".join(m.fields),
                    }
                },
            )

    def poll_once(self, wait: float = 0.0, stop: threading.Event | None = None) -> int:
        """One poll: reads the page after the cursor (held up to `wait` seconds when empty) and applies
        it. With `stop`, nothing touches the database once it is set."""
        with self._busy:
            if stop is not None and stop.is_set():
                return 0
            after = self.position()
        batch = self.fetch(after, wait)
        with self._busy:
            if stop is not None and stop.is_set():
                return 0
            self.head_position = batch.head_position
            last = max([after, *(e.position for e in batch), *(m.position for m in batch.malformed)])
            self._caught_up = last >= batch.head_position
            applied = self.apply(batch) if batch or batch.malformed else 0
        self.health.succeeded()
        return applied

    def run(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        failures = 0
        while not stop.is_set():
            wait = self.wait_seconds if self._caught_up else 0.0
            try:
                applied = self.poll_once(wait, stop)
            except Exception as err:  # noqa: BLE001 - keep polling; the next poll retries the same batch
                failures += 1
                self._caught_up = False
                self.health.failed(self, classify_failure(err))
                stop.wait(min(idle_seconds * 2 ** min(failures - 1, 6), MAX_BACKOFF_SECONDS))
                continue
            if failures:
                log.info("feed reads again", extra={"fields": {"consumer": self.name, "failures": failures}})
                failures = 0
            if applied == 0 and not (self.wait_seconds > 0 and self._caught_up):
                stop.wait(idle_seconds)  # short polling (the next long poll does its own waiting)

    def stop_applying(self, timeout: float) -> None:
        """Waits (up to `timeout`) for a batch being applied to finish; call after setting the run's stop
        event: no later poll touches the database. A long poll still in flight is left to end alone."""
        if self._busy.acquire(timeout=timeout):
            self._busy.release()


MAX_BACKOFF_SECONDS = 10.0
FAILURE_REASONS = ("connect", "auth", "server_error", "malformed", "apply")


def classify_failure(err: BaseException) -> str:
    """One of FAILURE_REASONS: why a poll failed, for the failures counter and readiness."""
    if isinstance(err, httpx.HTTPStatusError):
        return "auth" if err.response.status_code in (401, 403) else "server_error"
    if isinstance(err, httpx.TransportError):
        return "connect"
    if isinstance(err, UnreadablePage | ValidationError):
        return "malformed"
    return "apply"


class PollHealth:
    """When the consumer last read and applied a page of its feed, and its failures by reason."""

    def __init__(self) -> None:
        self.last_success = time.monotonic()  # a fresh consumer has its grace period from start
        self.last_failure: str | None = None
        self.failures: dict[str, int] = dict.fromkeys(FAILURE_REASONS, 0)
        self._logged_at = -math.inf

    def succeeded(self) -> None:
        self.last_success = time.monotonic()
        self.last_failure = None

    def seconds_since_success(self) -> float:
        return time.monotonic() - self.last_success

    def failed(self, consumer: "FeedConsumer", reason: str) -> None:
        self.failures[reason] += 1
        changed, self.last_failure = reason != self.last_failure, reason
        now = time.monotonic()
        if changed or now - self._logged_at >= 60:  # a feed that stays down: one line a minute
            self._logged_at = now
            log.warning(
                "feed poll failed",
                extra={"fields": {"consumer": consumer.name, "feed": consumer.feed, "reason": reason}},
            )


class ConsumerThread:
    """Runs a FeedConsumer's poll loop in a daemon thread from a service's lifespan:
    `start()` at startup, `stop()` at shutdown (waits for the current batch to finish, not for a
    long poll in flight)."""

    def __init__(self, consumer: FeedConsumer, idle_seconds: float = 1.0):
        self.consumer = consumer
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.consumer.run,
            args=(self._stop, self.idle_seconds),
            name=f"consumer-{self.consumer.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.consumer.stop_applying(timeout)
        if self._thread is not None:
            self._thread.join(0.1)


def consumer_check(consumer: FeedConsumer, max_lag: int, max_silence: float) -> Callable[[], tuple[bool, str]]:
    """A readiness check (see services.common.health): not ready when no poll of the feed has
    succeeded (read and applied) for `max_silence` seconds, or the consumer is more than `max_lag` events behind."""

    def check() -> tuple[bool, str]:
        silent = consumer.health.seconds_since_success()
        if silent > max_silence:
            why = consumer.health.last_failure or "no answer"
            return False, f"{consumer.feed}'s feed {consumer.feed_url} not consumed for {silent:.0f} s ({why})"
        lag = consumer.lag()
        return lag <= max_lag, f"{lag} events behind {consumer.feed}'s feed"

    return check


def system_token_source(
    settings: BaseServiceSettings, sub: str, ttl_seconds: int = 300, scope: str = "events:read"
) -> Callable[[], str]:
    """The bearer token a service's feed consumers present, fresh for every poll: a short-lived system
    token minted with the service's own secret (HS256), or, under RS256, signed with the service's
    consumer key and named by it (`kid` = `sub`), which the feed owners trust in JWT_SERVICE_KEYS.
    It carries the suite's audience and issuer and one scope: a feed consumer's `events:read` unless
    another is named."""
    if settings.jwt_algorithm == "RS256":
        key = getattr(settings, "consumer_signing_key", "")
        if not key:
            raise ValueError(f"{type(settings).__name__}: RS256 feed consumers need CONSUMER_SIGNING_KEY (a PEM)")

        version = getattr(settings, "consumer_key_version", "")
        kid = f"{sub}.{version}" if version else sub

        def signed() -> str:
            return mint_token(
                key,
                sub=sub,
                role="system",
                scope=scope,
                ttl_seconds=ttl_seconds,
                algorithm="RS256",
                kid=kid,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
            )

        return signed

    def token() -> str:
        return mint_for(settings, sub=sub, role="system", scope=scope, ttl_seconds=ttl_seconds)

    return token
