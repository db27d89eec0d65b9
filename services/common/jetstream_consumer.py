"""Runs a FeedConsumer on its feed owner's JetStream stream instead of the HTTP feed: one durable pull
consumer per partition (customers hashed to partitions), each partition held by one replica at a time
through a lease, so N replicas share the feed. The FeedConsumer applies each batch with the partition's
own cursor (`<consumer>.p<k>`) in the batch's transaction, exactly as over HTTP: an event at or below
the cursor is skipped, so redelivery, a relay's duplicate or a partition handed over mid-batch never
applies an event twice. A message is acknowledged only after its batch commits; whoever takes a
partition (at start, after a failure, or on handover) recreates its durable consumer at the first
unacknowledged message, so nothing committed is lost and the partition's order is kept."""

import asyncio
import concurrent.futures
import logging
from typing import Any

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from services.common.consumer import Batch, FeedConsumer, parse_page
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

log = logging.getLogger("consumer")


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
        try:
            js = nc.jetstream()
            try:
                self.partitions = await stream_partitions(js, self.transport, self.owner)
            except NotFoundError:  # the owner's relay has not made the stream yet
                self.consumer.health.failed(self.consumer, "connect")
                await self.pause(self.transport.lease_seconds / 3)
                return
            leases = Leases(await bucket(js, self.transport.lease_bucket, self.transport.lease_seconds), self.replica)
            try:
                while not self._stop.is_set():
                    await self._balance(js, leases)
                    self._report()
                    await self.pause(self.transport.lease_seconds / 3)
            finally:
                for k in list(self._tasks):
                    await self._drop(k, leases)
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

    async def _reset(self, js: JetStreamContext, k: int) -> Any:
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
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_wait=self.ack_wait_seconds,
            max_ack_pending=max(1000, self.consumer.batch_size * 2),
        )
        await js.add_consumer(self.stream, config)
        return await js.pull_subscribe_bind(name, stream=self.stream)

    async def _partition(self, js: JetStreamContext, k: int) -> None:
        failures = 0
        sub = None
        while True:
            try:
                if sub is None:
                    sub = await self._reset(js, k)
                await self._fetch_and_apply(sub, k)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - retried from the first unacknowledged message
                failures += 1
                self.consumer.health.failed(self.consumer, "apply" if sub is not None else "connect")
                log.debug("partition %s failed", k, exc_info=err)
                sub = None
                await asyncio.sleep(backoff(failures))

    async def _fetch_and_apply(self, sub: Any, k: int) -> None:
        try:
            msgs = await sub.fetch(self.consumer.batch_size, timeout=self.fetch_wait_seconds)
        except TimeoutError:  # nats.errors.TimeoutError is one too; fetch raises either when nothing came
            self.pending[k] = 0
            self.consumer.health.succeeded()
            return
        batch = self._batch(msgs, k)
        await asyncio.get_running_loop().run_in_executor(self._apply, self.consumer.apply, batch)
        for m in msgs:  # after the commit: a crash before these only brings the batch again, skipped
            await m.ack()
        self.pending[k] = msgs[-1].metadata.num_pending
        self.consumer.health.succeeded()

    def _batch(self, msgs: list[Any], k: int) -> Batch:
        """The messages as a feed page, in position order; a relay's late duplicate (a position not
        above one already in the batch) is left out, as the cursor would skip it in a later batch."""
        items, highest = [], 0
        for m in msgs:
            item = decode(m.data)
            position = int((m.headers or {}).get(HEADER_POSITION, item.get("position", 0)))
            if position > highest:
                items.append(item)
                highest = position
        batch = parse_page({"items": items, "last_position": highest, "head_position": highest})
        batch.cursor = self.cursor(k)
        return batch

    def _report(self) -> None:
        """The consumer's lag for its metrics and readiness: messages not yet fetched in held partitions."""
        self.consumer.head_position = self.consumer._position + sum(self.pending.values())
