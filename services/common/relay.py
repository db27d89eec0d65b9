"""Relays a service's outbox to its JetStream stream: reads the events after the relay's mark, publishes
them in order (event id as Nats-Msg-Id), and moves the mark only once JetStream has acknowledged every
one. A relay that dies between publishing and marking publishes those events again when it restarts;
JetStream drops them as duplicates within the stream's window, and consumers skip any that arrive
later (they apply by position). One replica relays at a time, holding a lease; the others stand by.

    python -m services.common.relay --service profile --database-url sqlite:///data/profile.db \\
        --nats-url nats://127.0.0.1:4222
"""

import argparse
import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable, Sequence

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import MetaData, Table

from services.common.db import Database
from services.common.feed_wait import signal_for
from services.common.jetstream import (
    BrokerWorker,
    Leases,
    Transport,
    bucket,
    connect,
    ensure_stream,
    event_message,
    replica_id,
)
from services.common.outbox import outbox_table, read_feed

log = logging.getLogger("relay")
FAULT_EXIT_CODE = 75
FAULTS = ("", "exit-before-mark")  # tests only: the process ends after the acks, before the mark moves


class OutboxRelay(BrokerWorker):
    """A background worker (start/stop) running the relay loop in its own thread and event loop."""

    def __init__(
        self,
        *,
        service: str,
        db: Database,
        transport: Transport,
        table: Table | None = None,
        recheck_seconds: float = 1.0,
        fault: str = "",
    ):
        if fault not in FAULTS:
            raise ValueError(f"unknown relay fault {fault!r}")
        self.service, self.db, self.transport, self.fault = service, db, transport, fault
        self.table = table if table is not None else outbox_table(MetaData())
        self.recheck_seconds = recheck_seconds
        super().__init__()
        self.thread_name = f"relay-{service}"
        self.owner = replica_id()
        self.mark = 0  # the last position JetStream has acknowledged, as this process last knew it
        self.head = 0
        self.published = 0
        self.errors = 0
        self.is_leader = False
        self.last_success = time.monotonic()

    def lag(self) -> int:
        return max(0, self.head - self.mark) if self.is_leader else 0

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        signal_for(self.table.name).notify()  # a relay waiting for a commit stops waiting
        super().stop(timeout)

    def failed(self, err: Exception, failures: int) -> None:
        self.errors += 1
        self.is_leader = False
        log.warning(
            "outbox relay failed",
            extra={"fields": {"service": self.service, "error": type(err).__name__, "failures": failures}},
        )

    async def session(self) -> None:
        nc = await connect(self.transport, f"relay-{self.service}")
        try:
            js = nc.jetstream()
            await ensure_stream(js, self.transport, self.service)
            leases = Leases(await bucket(js, self.transport.lease_bucket, self.transport.lease_seconds), self.owner)
            marks = await bucket(js, self.transport.mark_bucket)
            key = f"relay.{self.service}"
            renewed = 0.0
            try:
                while not self._stop.is_set():
                    if not self.is_leader:
                        self.is_leader = await leases.claim(key)
                        if self.is_leader:
                            self.mark, renewed = await self._read_mark(marks), time.monotonic()
                            log.info("outbox relay leads", extra={"fields": {"service": self.service}})
                        else:
                            self.last_success = time.monotonic()  # standing by is healthy
                            await self.pause(self.transport.lease_seconds / 3)
                            continue
                    if time.monotonic() - renewed > self.transport.lease_seconds / 3:
                        self.is_leader = await leases.renew(key)
                        renewed = time.monotonic()
                        if not self.is_leader:
                            continue
                    if await self.relay_once(js, marks) == 0:
                        await self._wait_for_commit()
            finally:
                await leases.release(key)
                self.is_leader = False
        finally:
            await nc.close()

    async def _read_mark(self, marks: KeyValue) -> int:
        try:
            entry = await marks.get(self.service)
        except KeyNotFoundError:
            return 0
        return int(entry.value or b"0")

    async def _wait_for_commit(self) -> None:
        """Until this process commits to the outbox (at once), or `recheck_seconds` (other processes)."""
        signal = signal_for(self.table.name)
        await signal.wait(signal.version, self.recheck_seconds)

    async def relay_once(self, js: JetStreamContext, marks: KeyValue) -> int:
        """Publishes the events after the mark (one batch), then moves the mark; returns how many."""
        page = await asyncio.get_running_loop().run_in_executor(None, self._read_page)
        self.head = page.head_position
        if not page.items:
            self.last_success = time.monotonic()
            return 0
        acks = []
        for event in page.items:
            subject, body, headers = event_message(self.transport, self.service, event)
            acks.append(await js.publish_async(subject, body, headers=headers))
        await asyncio.gather(*acks)  # raises if any was refused; the mark stays and the batch is sent again
        if self.fault == "exit-before-mark":
            os._exit(FAULT_EXIT_CODE)
        await marks.put(self.service, str(page.last_position).encode())
        self.mark = page.last_position
        self.published += len(page.items)
        self.last_success = time.monotonic()
        return len(page.items)

    def _read_page(self):  # type: ignore[no-untyped-def]
        with self.db.read() as session:
            return read_feed(session, self.table, after=self.mark, limit=self.transport.relay_batch)


class RelayCollector(Collector):
    """outbox_relay_lag_events, outbox_relay_seconds_since_success, outbox_relay_published_total,
    outbox_relay_errors_total and outbox_relay_leader, labelled `service`; no samples without a relay."""

    def __init__(self, relays: Sequence[OutboxRelay]):
        self.relays = tuple(relays)

    def collect(self) -> Iterable[Metric]:
        lag = GaugeMetricFamily(
            "outbox_relay_lag_events",
            "Outbox events not yet acknowledged by JetStream (the leader)",
            labels=["service"],
        )
        silent = GaugeMetricFamily(
            "outbox_relay_seconds_since_success",
            "Seconds since the relay last relayed a batch, found nothing to relay or confirmed it stands by",
            labels=["service"],
        )
        leader = GaugeMetricFamily(
            "outbox_relay_leader", "1 while this replica holds the relay lease", labels=["service"]
        )
        published = CounterMetricFamily(
            "outbox_relay_published", "Events published to JetStream by this process", labels=["service"]
        )
        errors = CounterMetricFamily(
            "outbox_relay_errors", "Relay sessions ended by an error (broker or database)", labels=["service"]
        )
        for r in self.relays:
            lag.add_metric([r.service], r.lag())
            silent.add_metric([r.service], time.monotonic() - r.last_success)
            leader.add_metric([r.service], 1 if r.is_leader else 0)
            published.add_metric([r.service], r.published)
            errors.add_metric([r.service], r.errors)
        return [lag, silent, leader, published, errors]

    def describe(self) -> Iterable[Metric]:
        return []


def install_relay_metrics(registry: CollectorRegistry, relays: Sequence[OutboxRelay]) -> None:
    registry.register(RelayCollector(relays))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.common.relay", description=__doc__)
    p.add_argument("--service", required=True)
    p.add_argument("--database-url", required=True)
    p.add_argument("--nats-url", default=os.environ.get("SUITE_NATS_URL", "nats://127.0.0.1:4222"))
    p.add_argument("--prefix", default=os.environ.get("SUITE_NATS_SUBJECT_PREFIX", "suite"))
    p.add_argument("--partitions", type=int, default=int(os.environ.get("SUITE_NATS_PARTITIONS", "8")))
    p.add_argument("--lease-seconds", type=float, default=10.0)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--fault", choices=FAULTS, default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    transport = Transport(
        url=args.nats_url,
        prefix=args.prefix,
        partitions=args.partitions,
        lease_seconds=args.lease_seconds,
        relay_batch=args.batch,
    )
    relay = OutboxRelay(service=args.service, db=Database(args.database_url), transport=transport, fault=args.fault)
    with contextlib.suppress(KeyboardInterrupt):
        relay.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
