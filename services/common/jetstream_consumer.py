"""Runs a FeedConsumer on its feed owner's JetStream stream instead of the HTTP feed: one durable pull
consumer per partition (customers hashed to partitions), each partition held by one replica at a time
through a lease, so N replicas share the feed. The FeedConsumer applies each batch with the partition's
own cursor (`<consumer>.p<k>`) in the batch's transaction, exactly as over HTTP: an event at or below
the cursor is skipped, so redelivery, a relay's duplicate or a partition handed over mid-batch never
applies an event twice. One applier takes the batches of every partition the replica holds into one
transaction (each with its own cursor), falling back to a transaction per partition when that fails. A
batch is acknowledged only after it commits, with one acknowledgement of its last message (the
consumers acknowledge all before it: AckPolicy.ALL); whoever takes a partition (at start, after a
failure, or on handover) recreates its durable consumer at the first unacknowledged message, so nothing
committed is lost and the partition's order is kept."""

import asyncio
import collections
import concurrent.futures
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from services.common.consumer import Batch, FeedConsumer, parse_page, together
from services.common.jetstream import (
    HEADER_POSITION,
    BrokerWorker,
    Leases,
    Transport,
    backoff,
    bucket,
    connect,
    decode,
    fair_share,
    replica_id,
    stream_partitions,
)
from services.common.outbox import Event

log = logging.getLogger("consumer")
PREFETCH = 2  # a partition's batches fetched and not yet applied, at most
STATUS_HEADER = api.Header.STATUS  # a pull request's end: 404 nothing to deliver, 408 expired, 409 refused


class Puller:
    """Fetches batches of a partition's durable pull consumer into an inbox of its own, the messages
    gathered by one subscription callback. (nats-py's fetch spends a task, a timer and a random uuid on
    every message, which on a busy consumer is as much as decoding it.) Messages come in stream order
    whichever request brought them; one that arrives after its fetch returned waits for the next."""

    def __init__(self, nc: Client, stream: str, durable: str):
        self.nc = nc
        self.subject = f"{api.DEFAULT_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.inbox = nc.new_inbox()
        self.buffer: list[Msg] = []
        self.ended = False  # the last request ended (a status came) without filling the batch
        self.refused: str | None = None  # a status other than the end of a request: the consumer's gone
        self.want = 1  # the callback wakes the fetch once the buffer holds this many
        self.woken = asyncio.Event()
        self.sub: Subscription | None = None

    async def start(self) -> "Puller":
        self.sub = await self.nc.subscribe(self.inbox, cb=self._received)
        return self

    async def close(self) -> None:
        if self.sub is not None and not self.nc.is_closed:
            await self.sub.unsubscribe()
        self.sub = None

    async def _received(self, msg: Msg) -> None:
        if msg.headers and not msg.data and STATUS_HEADER in msg.headers:
            status = msg.headers[STATUS_HEADER]
            if status == "100":  # a heartbeat
                return
            if status not in ("404", "408"):  # 409: deleted, leader changed...; 503: no such consumer
                self.refused = f"{status} {msg.headers.get(api.Header.DESCRIPTION, '')}".strip()
            self.ended = True
            self.woken.set()
            return
        self.buffer.append(msg)
        if len(self.buffer) >= self.want:
            self.woken.set()

    async def _request(self, batch: int, expires: float | None = None) -> None:
        request: dict[str, Any] = {"batch": batch}
        if expires is None:
            request["no_wait"] = True  # what is there now, then a status if that was short of the batch
        else:
            request["expires"] = max(1_000_000, int(expires * 1e9))  # nanoseconds
        self.ended = False
        self.woken.clear()
        await self.nc.publish(self.subject, json.dumps(request).encode(), reply=self.inbox)

    async def _wait(self, want: int, deadline: float) -> bool:
        """Until the buffer holds `want` messages, the request ends or the deadline; False at the deadline."""
        self.want = want
        loop = asyncio.get_running_loop()
        while len(self.buffer) < want and not self.ended:
            self.woken.clear()
            try:
                await asyncio.wait_for(self.woken.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return False
        return True

    async def fetch(self, batch: int, wait: float) -> list[Msg]:
        """Up to `batch` messages: those available now, or else the first to come within `wait` seconds
        (with any that came along with it); empty when none came."""
        deadline = asyncio.get_running_loop().time() + wait
        if len(self.buffer) < batch:
            await self._request(batch - len(self.buffer))
            if await self._wait(batch, deadline) and not self.buffer:
                await self._request(batch, expires=deadline - asyncio.get_running_loop().time())
                await self._wait(1, deadline)
        taken, self.buffer = self.buffer[:batch], self.buffer[batch:]
        if not taken and self.refused is not None:
            raise RuntimeError(f"pull request refused: {self.refused}")
        return taken


@dataclass
class _Queued:
    """A partition's batch waiting for the applier."""

    k: int
    epoch: int  # the partition's when fetched: a later failure or drop voids it
    batch: Batch
    last: Msg  # its last message, acknowledged (with all before it) once the batch commits
    done: asyncio.Future[None]


def _by_partition(queued: list[_Queued]) -> dict[int, tuple[Batch, Msg]]:
    """The queued batches as one per partition (in fetch order) and the last message of each. A later
    batch's item at or below a position already in the partition's (a relay's late duplicate) is left
    out, as it would have been skipped had the batches been applied one after the other."""
    parts: dict[int, tuple[Batch, Msg]] = {}
    for q in queued:
        if q.k not in parts:
            parts[q.k] = (q.batch, q.last)
            continue
        before = parts[q.k][0]
        highest = max((x.position for x in [*before, *before.malformed]), default=0)
        merged = Batch(
            [*before, *(e for e in q.batch if e.position > highest)],
            [*before.malformed, *(m for m in q.batch.malformed if m.position > highest)],
            max(before.head_position, q.batch.head_position),
        )
        merged.cursor = q.batch.cursor
        parts[q.k] = (merged, q.last)
    return parts


class JetStreamRunner(BrokerWorker):
    """A background worker (start/stop) in place of a FeedConsumer's HTTP poll thread."""

    def __init__(
        self,
        consumer: FeedConsumer,
        transport: Transport,
        *,
        owner: str | None = None,
        fetch_wait_seconds: float = 1.0,
        ack_wait_seconds: float = 30.0,
        replica: str | None = None,
        group_events: int | None = None,
    ):
        self.consumer, self.transport = consumer, transport
        self.owner = owner or consumer.feed  # the service whose stream is read
        self.stream = transport.stream(self.owner)
        self.fetch_wait_seconds, self.ack_wait_seconds = fetch_wait_seconds, ack_wait_seconds
        super().__init__()
        self.thread_name = f"jetstream-{consumer.name}"
        self.replica = replica or replica_id()
        self.partitions = transport.partitions
        self.pending: dict[int, int] = {}  # messages after the last one fetched, per held partition
        # events the applier takes into one transaction, at most (besides the first batch it takes)
        self.group_events = group_events or consumer.batch_size * 4
        self._nc: Client | None = None
        self._ready: asyncio.Queue[_Queued] = asyncio.Queue()
        self._epoch: collections.Counter[int] = collections.Counter()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._apply = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"apply-{consumer.name}")
        consumer.feed_url = f"JetStream stream {self.stream}"

    @property
    def held(self) -> list[int]:
        return sorted(self._tasks)

    def durable(self, partition: int) -> str:
        return f"{self.consumer.name}-p{partition}"

    def cursor(self, partition: int) -> str:
        return f"{self.consumer.name}.p{partition}"

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self._apply.shutdown(wait=True)

    def failed(self, err: Exception, failures: int) -> None:
        self.consumer.health.failed(self.consumer, "connect")
        log.debug("jetstream session ended", exc_info=err)

    async def session(self) -> None:
        nc = await connect(self.transport, f"{self.consumer.name}-{self.replica}")
        self._nc = nc
        try:
            js = nc.jetstream()
            try:
                self.partitions = await stream_partitions(js, self.transport, self.owner)
            except NotFoundError:  # the owner's relay has not made the stream yet
                self.consumer.health.failed(self.consumer, "connect")
                await self.pause(self.transport.lease_seconds / 3)
                return
            leases = Leases(await bucket(js, self.transport.lease_bucket, self.transport.lease_seconds), self.replica)
            self._ready = asyncio.Queue()
            applier = asyncio.create_task(self._applier())
            try:
                while not self._stop.is_set():
                    await self._balance(js, leases)
                    self._report()
                    await self.pause(self.transport.lease_seconds / 3)
            finally:
                for k in list(self._tasks):
                    await self._drop(k, leases)
                applier.cancel()
                await asyncio.gather(applier, return_exceptions=True)
        finally:
            await nc.close()

    async def _balance(self, js: JetStreamContext, leases: Leases) -> None:
        """Renews this replica's leases, gives up partitions beyond its fair share, claims free ones up to it."""
        base = f"{self.consumer.name}."
        await leases.kv.put(f"{base}m.{self.replica}", b"1")
        members = len(await leases.keys(f"{base}m."))
        for k in list(self._tasks):
            if self._tasks[k].done() or not await leases.renew(f"{base}p{k}"):
                await self._drop(k, leases)
        share = fair_share(self.partitions, members)
        for k in sorted(self._tasks, reverse=True)[: max(0, len(self._tasks) - share)]:
            await self._drop(k, leases)  # another replica joined: hand this one over
        for k in range(self.partitions):
            if len(self._tasks) >= share:
                break
            if k not in self._tasks and await leases.claim(f"{base}p{k}"):
                self._tasks[k] = asyncio.create_task(self._partition(js, k))

    async def _drop(self, k: int, leases: Leases) -> None:
        task = self._tasks.pop(k)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self.pending.pop(k, None)
        await leases.release(f"{self.consumer.name}.p{k}")

    async def _reset(self, js: JetStreamContext, k: int) -> Puller:
        """The partition's durable consumer, recreated at its first unacknowledged message: messages that
        were delivered but not acknowledged come again first, in order, whoever fetched them before."""
        name = self.durable(k)
        start = 1
        try:
            start = (await js.consumer_info(self.stream, name)).ack_floor.stream_seq + 1
            await js.delete_consumer(self.stream, name)
        except NotFoundError:
            pass
        config = api.ConsumerConfig(
            name=name,
            durable_name=name,
            filter_subject=self.transport.partition_subjects(self.owner, k),
            ack_policy=api.AckPolicy.ALL,  # one ack, of a batch's last message, acknowledges the batch
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_wait=self.ack_wait_seconds,
            max_ack_pending=max(1000, self.consumer.batch_size * (PREFETCH + 2)),
        )
        await js.add_consumer(self.stream, config)
        assert self._nc is not None
        return await Puller(self._nc, self.stream, name).start()

    async def _partition(self, js: JetStreamContext, k: int) -> None:
        """Fetches the partition's batches for the applier, up to PREFETCH of them not yet applied (the
        next is fetched and decoded while the one before is applied). An apply that failed restarts the
        partition from its first unacknowledged message."""
        failures = 0
        puller = None
        waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        try:
            while True:
                try:
                    if puller is None:
                        puller = await self._reset(js, k)
                    while waiting and (waiting[0].done() or len(waiting) >= PREFETCH):
                        await waiting.popleft()  # raises the apply's error
                    msgs = await puller.fetch(self.consumer.batch_size, self.fetch_wait_seconds)
                    if not msgs:
                        if not waiting:
                            self.pending[k] = 0
                            self.consumer.health.succeeded()
                        continue
                    self.pending[k] = msgs[-1].metadata.num_pending
                    done = asyncio.get_running_loop().create_future()
                    self._ready.put_nowait(_Queued(k, self._epoch[k], self._batch(msgs, k), msgs[-1], done))
                    waiting.append(done)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001 - retried from the first unacknowledged message
                    failures += 1
                    self.consumer.health.failed(self.consumer, "apply" if puller is not None else "connect")
                    log.debug("partition %s failed", k, exc_info=err)
                    self._epoch[k] += 1  # what it queued after the failed batch is not applied
                    waiting.clear()
                    if puller is not None:
                        await asyncio.shield(puller.close())
                    puller = None
                    await asyncio.sleep(backoff(failures))
        finally:
            self._epoch[k] += 1
            if puller is not None:
                await asyncio.shield(puller.close())

    async def _applier(self) -> None:
        """Applies every batch queued by the partitions in one transaction (up to `group_events` events),
        then acknowledges each partition's last message. When that transaction fails, each partition's
        batches are applied on their own, so one partition's failure holds back no other's."""
        loop = asyncio.get_running_loop()
        while True:
            queued = [await self._ready.get()]
            size = len(queued[0].batch)
            while not self._ready.empty() and size < self.group_events:
                queued.append(self._ready.get_nowait())
                size += len(queued[-1].batch)
            queued = [q for q in queued if not q.done.done() and q.epoch == self._epoch[q.k]]
            if not queued:
                continue
            parts = _by_partition(queued)
            try:
                await loop.run_in_executor(self._apply, self.consumer.apply, together([b for b, _ in parts.values()]))
                failed: dict[int, Exception] = {}
            except Exception:  # noqa: BLE001 - each partition again on its own
                failed = {}
                for k, (batch, _) in parts.items():
                    try:
                        await loop.run_in_executor(self._apply, self.consumer.apply, batch)
                    except Exception as err:  # noqa: BLE001 - that partition restarts (see _partition)
                        failed[k] = err
                        self._epoch[k] += 1  # now: its batches queued behind this one must not apply
            for k, (_, last) in parts.items():
                if k not in failed:  # after the commit: a crash before it brings the batch again, skipped
                    with contextlib.suppress(Exception):  # unacknowledged: fetched again later, skipped too
                        await last.ack()
            told: set[int] = set()
            for q in queued:
                if q.done.done():
                    continue
                if q.k not in failed:
                    q.done.set_result(None)
                elif q.k not in told:  # the partition's oldest: what it awaits, and restarts on
                    q.done.set_exception(failed[q.k])
                    told.add(q.k)
                else:
                    q.done.cancel()  # fetched after it: dropped with it
            if len(failed) < len(parts):
                self.consumer.health.succeeded()

    def _batch(self, msgs: list[Msg], k: int) -> Batch:
        """The messages as a feed page, in position order; a relay's late duplicate (a position not
        above one already in the batch) is left out, as the cursor would skip it in a later batch. An
        envelope is validated straight from its JSON; one that fails is read as the HTTP feed's page
        reads it (set aside as malformed, or the page refused)."""
        events: list[Event] = []
        odd: list[Any] = []  # items whose envelope failed
        highest = 0
        for m in msgs:
            item: Any = None
            try:
                event: Event | None = Event.model_validate_json(m.data)
            except ValidationError:
                event, item = None, decode(m.data)
            header = (m.headers or {}).get(HEADER_POSITION)
            if header is not None:
                position = int(header)
            else:
                position = event.position if event is not None else int(item.get("position", 0))
            if position > highest:
                highest = position
                if event is not None:
                    events.append(event)
                else:
                    odd.append(item)
        if odd:  # rare: the page's own rules for them, then the events in position order again
            page = parse_page({"items": odd, "last_position": highest, "head_position": highest})
            batch = Batch(sorted([*events, *page], key=lambda e: e.position), page.malformed, highest)
        else:
            batch = Batch(events, (), highest)
        batch.cursor = self.cursor(k)
        return batch

    def _report(self) -> None:
        """The consumer's lag for its metrics and readiness: messages not yet fetched in held partitions."""
        self.consumer.head_position = self.consumer._position + sum(self.pending.values())
