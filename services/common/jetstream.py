"""NATS JetStream as the suite's event transport: stream, subject and consumer names, the partition of
a customer, the stream's settings, and leases (who relays a service's outbox, which replica reads
which partition) kept in a JetStream key-value bucket (docs/events.md, "Events on NATS JetStream")."""

import asyncio
import json
import logging
import math
import os
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import (
    APIError,
    BadRequestError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from services.common.config import EventTransportSettings
from services.common.outbox import Event

log = logging.getLogger("jetstream")
HEADER_MSG_ID = "Nats-Msg-Id"  # JetStream drops a second message with the same id within the window
HEADER_SUBJECT_ID = "Suite-Subject-Id"  # the event's subject_id: the customer, as a rule
HEADER_POSITION = "Suite-Position"  # the event's position in its owner's outbox
HEADER_TYPE = "Suite-Event-Type"
PARTITIONS_NOTE = "partitions="  # the stream's description carries its partition count


@dataclass(frozen=True)
class Transport:
    """The broker settings one relay or consumer needs (from EventTransportSettings, or a command line)."""

    url: str
    prefix: str = "suite"
    partitions: int = 8
    dedup_window_seconds: float = 600.0
    max_age_days: float = 7.0
    stream_replicas: int = 1
    lease_seconds: float = 10.0
    relay_batch: int = 500

    @classmethod
    def from_settings(cls, settings: EventTransportSettings) -> "Transport":
        return cls(
            url=settings.nats_url,
            prefix=settings.nats_subject_prefix,
            partitions=settings.nats_partitions,
            dedup_window_seconds=settings.nats_dedup_window_seconds,
            max_age_days=settings.nats_stream_max_age_days,
            stream_replicas=settings.nats_stream_replicas,
            lease_seconds=settings.nats_lease_seconds,
            relay_batch=settings.nats_relay_batch,
        )

    def stream(self, service: str) -> str:
        """`SUITE_PROFILE`: one stream per service, holding every event of its outbox."""
        return f"{self.prefix}_{service}".upper().replace("-", "_")

    def subject(self, service: str, partition: int, event_type: str) -> str:
        """`suite.profile.3.transaction.recorded`: owner, partition, then the event type."""
        return f"{self.prefix}.{service}.{partition}.{event_type}"

    def partition_subjects(self, service: str, partition: int) -> str:
        return f"{self.prefix}.{service}.{partition}.>"

    @property
    def lease_bucket(self) -> str:
        return f"{self.prefix}_leases"

    @property
    def mark_bucket(self) -> str:
        return f"{self.prefix}_relay_marks"


def partition_of(subject_id: str, partitions: int) -> int:
    """The partition of an event's subject (customer): CRC-32 (IEEE) of its UTF-8 text, modulo the count,
    so every event of one customer lands in one partition and keeps its order there."""
    return zlib.crc32(subject_id.encode()) % partitions


def event_message(transport: Transport, service: str, event: Event) -> tuple[str, bytes, dict[str, str]]:
    """The subject, body (the same envelope the HTTP feed serves) and headers of an event."""
    subject = transport.subject(service, partition_of(event.subject_id, transport.partitions), event.type)
    headers = {
        HEADER_MSG_ID: event.event_id,
        HEADER_SUBJECT_ID: event.subject_id,
        HEADER_POSITION: str(event.position),
        HEADER_TYPE: event.type,
    }
    return subject, event.model_dump_json().encode(), headers


async def connect(transport: Transport, name: str) -> Client:
    return await nats.connect(
        servers=transport.url.split(","), name=name, connect_timeout=5, max_reconnect_attempts=3, allow_reconnect=True
    )


async def ensure_stream(js: JetStreamContext, transport: Transport, service: str) -> api.StreamInfo:
    """Creates the service's stream, or brings an existing one's settings up to date."""
    config = api.StreamConfig(
        name=transport.stream(service),
        description=f"{service}'s outbox; {PARTITIONS_NOTE}{transport.partitions}",
        subjects=[f"{transport.prefix}.{service}.>"],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        duplicate_window=transport.dedup_window_seconds,
        max_age=transport.max_age_days * 86_400,
        num_replicas=transport.stream_replicas,
    )
    try:
        return await js.add_stream(config)
    except BadRequestError:  # exists with other settings
        return await js.update_stream(config)


async def stream_partitions(js: JetStreamContext, transport: Transport, service: str) -> int:
    """The partition count the stream's relay publishes with; NotFoundError until the relay made it."""
    info = await js.stream_info(transport.stream(service))
    note = (info.config.description or "").rpartition(PARTITIONS_NOTE)[2]
    return int(note) if note.isdigit() else transport.partitions


async def bucket(js: JetStreamContext, name: str, ttl: float | None = None) -> KeyValue:
    try:
        return await js.key_value(name)
    except (NotFoundError, APIError):
        try:
            return await js.create_key_value(bucket=name, ttl=ttl, history=1)
        except BadRequestError:  # another process created it meanwhile
            return await js.key_value(name)


class Leases:
    """Leases in a key-value bucket whose values expire `ttl` seconds after their last write: a holder
    renews well within it; a dead holder's lease lapses and another may claim it."""

    def __init__(self, kv: KeyValue, owner: str):
        self.kv, self.owner = kv, owner
        self.held: dict[str, int] = {}  # key -> revision

    async def claim(self, key: str) -> bool:
        """False when another holds the lease. A lease (or its release's marker) that lapses while the
        client's create runs makes it fail with KeyNotFoundError (the key was there for its first write
        and gone for its second read): the key is free then, so the claim is tried once more."""
        for _ in range(2):
            try:
                self.held[key] = await self.kv.create(key, self.owner.encode())
                return True
            except KeyWrongLastSequenceError:
                return False
            except KeyNotFoundError:
                continue
        return False

    async def renew(self, key: str) -> bool:
        """False when the lease was lost (expired and claimed by another, or deleted) or never held."""
        if key not in self.held:
            return False
        try:
            self.held[key] = await self.kv.update(key, self.owner.encode(), last=self.held[key])
            return True
        except KeyWrongLastSequenceError:
            self.held.pop(key, None)
            return False

    async def release(self, key: str) -> None:
        """Gives the lease up at once. Never raises: a lease not released (someone else's already, or the
        broker gone) lapses `ttl` seconds after its last renewal all the same."""
        revision = self.held.pop(key, None)
        if revision is not None:
            try:
                await self.kv.delete(key, last=revision)
            except Exception as err:  # noqa: BLE001
                log.debug("lease %s not released", key, exc_info=err)

    async def keys(self, prefix: str) -> list[str]:
        try:
            return [k for k in await self.kv.keys() if k.startswith(prefix)]
        except NoKeysError:
            return []


def fair_share(partitions: int, members: int) -> int:
    return math.ceil(partitions / max(1, members))


def decode(body: bytes) -> Any:
    return json.loads(body)


def replica_id() -> str:
    """This process among the replicas: host, pid and a random tail (a restarted pid is another replica)."""
    return f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


MAX_BACKOFF_SECONDS = 10.0


class BrokerWorker:
    """A background worker (start/stop) running `session()` in its own thread and event loop, again
    after each failure (backoff from half a second, doubling to 10 s) until stopped. A session that ran
    `settled_seconds` before it failed was a healthy one: the backoff after it starts again from half a
    second, so one outage a day later does not wait as long as the tenth of a string of failures."""

    thread_name = "jetstream"
    settled_seconds = 60.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        asyncio.run(self._main())

    async def session(self) -> None:
        raise NotImplementedError

    def failed(self, err: Exception, failures: int) -> None:
        """Called for each session ended by an error."""

    async def _main(self) -> None:
        failures = 0
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                await self.session()
                failures = 0
            except Exception as err:  # noqa: BLE001 - a broker or database outage: the session starts again
                failures = 1 if time.monotonic() - began >= self.settled_seconds else failures + 1
                self.failed(err, failures)
                await self.pause(backoff(failures))

    async def pause(self, seconds: float) -> None:
        """Sleeps up to `seconds`, ending early when the worker is stopped."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, seconds))


def backoff(failures: int) -> float:
    return min(0.5 * float(2 ** min(failures - 1, 6)), MAX_BACKOFF_SECONDS)
