"""Events on NATS JetStream against the real server: the outbox relay (ids, subjects, headers, a crash
between publishing and marking) and partitioned consumers in separate processes (a replica killed
mid-batch, a partition handed over, three replicas): every event applied once, none lost, and each
customer's events applied in their order."""

import asyncio
import json
import subprocess
import sys
import time
import uuid
import zlib
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from pydantic import ValidationError
from sqlalchemy import MetaData, select

from services.common.config import EventTransportSettings
from services.common.consumer import Batch, FeedConsumer, PollHealth
from services.common.db import Database
from services.common.jetstream import HEADER_MSG_ID, HEADER_POSITION, HEADER_SUBJECT_ID, Transport, partition_of
from services.common.jetstream_consumer import JetStreamRunner, _by_partition, _Queued
from services.common.outbox import Event, outbox_table, record_event
from services.common.relay import FAULT_EXIT_CODE, OutboxRelay, RelayCollector
from tests import natskit
from tests.common.jetstream_replica import CRASH_EXIT_CODE, EVENT_TYPE, OWNER, tables

pytestmark = pytest.mark.nats
ROOT = Path(__file__).parents[2]


@pytest.fixture
def transport():
    natskit.require_nats()
    t = natskit.transport()
    yield t
    natskit.drop(t)


@pytest.fixture
def owner_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'owner.db'}")
    outbox_table(MetaData()).metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def reader_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'reader.db'}"
    db = Database(url)
    tables()[0].create_all(db.engine)
    yield db
    db.dispose()


def record(db: Database, customers: list[str], n: int) -> list[str]:
    """`n` events round-robin over `customers`, one transaction each; returns their subjects in order."""
    table = outbox_table(MetaData())
    subjects = []
    for i in range(n):
        subject = customers[i % len(customers)]
        with db.write() as s:
            record_event(s, table, type=EVENT_TYPE, subject_id=subject, data={"n": i})
            s.commit()
        subjects.append(subject)
    return subjects


def customers(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def wait_until(check, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stream_messages(t, service: str = OWNER) -> list:
    async def read():
        nc = await nats.connect(t.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(t.stream(service))
            return [await js.get_msg(t.stream(service), seq) for seq in range(1, info.state.last_seq + 1)]
        finally:
            await nc.close()

    return asyncio.run(read())


def stream_count(t, service: str = OWNER) -> int:
    async def count():
        nc = await nats.connect(t.url)
        try:
            return (await nc.jetstream().stream_info(t.stream(service))).state.messages
        except nats.js.errors.NotFoundError:
            return 0
        finally:
            await nc.close()

    return asyncio.run(count())


def relay_mark(t, service: str = OWNER) -> int:
    async def read():
        nc = await nats.connect(t.url)
        try:
            kv = await nc.jetstream().key_value(t.mark_bucket)
            return int((await kv.get(service)).value)
        except (nats.js.errors.NotFoundError, nats.js.errors.KeyNotFoundError):
            return 0
        finally:
            await nc.close()

    return asyncio.run(read())


def lease_holders(t, name: str = "reader") -> dict[str, str]:
    """Which replica holds each partition of consumer `name` (from the lease bucket)."""

    async def read():
        nc = await nats.connect(t.url)
        try:
            kv = await nc.jetstream().key_value(t.lease_bucket)
            try:
                keys = [k for k in await kv.keys() if k.startswith(f"{name}.p")]
            except nats.js.errors.NoKeysError:
                return {}
            holders = {}
            for k in keys:
                try:
                    holders[k] = (await kv.get(k)).value.decode()
                except nats.js.errors.KeyNotFoundError:  # released between the listing and the read
                    continue
            return holders
        finally:
            await nc.close()

    return asyncio.run(read())


def applied(db: Database) -> list:
    table = tables()[2]
    with db.read() as s:
        return list(s.execute(select(table).order_by(table.c.id)).mappings())


def assert_once_in_order(db: Database, owner_db: Database) -> list:
    """Every outbox event applied exactly once, and each customer's in position order."""
    table = outbox_table(MetaData())
    with owner_db.read() as s:
        expected = {r.event_id for r in s.execute(select(table.c.event_id))}
    rows = applied(db)
    ids = [r["event_id"] for r in rows]
    assert len(ids) == len(set(ids)), "an event was applied twice"
    assert set(ids) == expected, "an event was lost"
    by_customer = defaultdict(list)
    for r in rows:
        by_customer[r["subject_id"]].append(r["position"])
    for positions in by_customer.values():
        assert positions == sorted(positions), "a customer's events were applied out of order"
    return rows


class Replica:
    def __init__(self, db_url: str, t, name: str, crash_after: int = 0):
        self.name = name
        cmd = [sys.executable, "-m", "tests.common.jetstream_replica", "--db", db_url, "--nats", t.url]
        cmd += ["--prefix", t.prefix, "--replica", name, "--crash-after", str(crash_after)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT)  # noqa: S603

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(30)


@pytest.fixture
def replicas():
    started: list[Replica] = []
    yield started
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait(10)


def start_relay(owner_db, t) -> OutboxRelay:
    relay = OutboxRelay(service=OWNER, db=owner_db, transport=t, recheck_seconds=0.2)
    relay.start()
    return relay


def test_relay_publishes_each_event_once_with_its_id_partition_and_headers(owner_db, transport):
    people = customers(5)
    subjects = record(owner_db, people, 30)
    relay = start_relay(owner_db, transport)
    try:
        wait_until(lambda: relay.mark == 30, what="the relay's mark")
        record(owner_db, people, 5)  # a commit in this process wakes the relay at once
        wait_until(lambda: relay.mark == 35, what="the later events")
        assert relay.lag() == 0 and relay.published == 35
        samples = {m.name: m.samples for m in RelayCollector([relay]).collect()}
        assert samples["outbox_relay_leader"][0].value == 1
        assert samples["outbox_relay_published"][0].value == 35
    finally:
        relay.stop()
    msgs = stream_messages(transport)
    assert [int(m.headers[HEADER_POSITION]) for m in msgs] == list(range(1, 36))
    for m, subject in zip(msgs, subjects, strict=False):
        body = json.loads(m.data)
        assert m.headers[HEADER_MSG_ID] == body["event_id"]
        assert m.headers[HEADER_SUBJECT_ID] == subject == body["subject_id"]
        partition = partition_of(subject, transport.partitions)
        assert m.subject == f"{transport.prefix}.{OWNER}.{partition}.{EVENT_TYPE}"
    assert relay_mark(transport) == 35


def test_relay_standby_takes_over_when_the_leader_stops(owner_db, transport):
    record(owner_db, customers(3), 10)
    first, second = start_relay(owner_db, transport), start_relay(owner_db, transport)
    try:
        wait_until(lambda: first.mark == 10 or second.mark == 10, what="one relay to lead")
        assert [first.is_leader, second.is_leader].count(True) == 1
        leader, standby = (first, second) if first.is_leader else (second, first)
        leader.stop()
        record(owner_db, customers(3), 10)
        wait_until(lambda: standby.mark == 20, what="the standby to relay")
    finally:
        first.stop()
        second.stop()
    assert stream_count(transport) == 20


def relay_process(owner_db, t, fault: str = "") -> subprocess.Popen:
    cmd = [sys.executable, "-m", "services.common.relay", "--service", OWNER, "--database-url", owner_db.url]
    cmd += ["--nats-url", t.url, "--prefix", t.prefix, "--lease-seconds", "2", "--batch", "25"]
    if fault:
        cmd += ["--fault", fault]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def test_relay_killed_between_publish_and_mark_loses_nothing_and_the_duplicates_are_absorbed(
    owner_db, reader_db, transport, replicas
):
    record(owner_db, customers(6), 60)
    crashed = relay_process(owner_db, transport, fault="exit-before-mark")
    assert crashed.wait(60) == FAULT_EXIT_CODE
    assert stream_count(transport) == 25  # the first batch reached the stream; its mark did not move
    assert relay_mark(transport) == 0
    replicas.append(Replica(reader_db.url, transport, "r1"))
    restarted = relay_process(owner_db, transport)
    try:
        wait_until(lambda: relay_mark(transport) == 60, what="the restarted relay's mark")
    finally:
        restarted.terminate()
        restarted.wait(10)
    assert stream_count(transport) == 60  # the 25 published again were dropped as duplicates
    wait_until(lambda: len(applied(reader_db)) >= 60, what="the reader")
    assert_once_in_order(reader_db, owner_db)


def test_replica_killed_mid_batch_loses_nothing_and_applies_nothing_twice(owner_db, reader_db, transport, replicas):
    record(owner_db, customers(40), 400)
    relay = start_relay(owner_db, transport)
    try:
        wait_until(lambda: relay.mark == 400, what="the relay")
        doomed = Replica(reader_db.url, transport, "doomed", crash_after=7)
        replicas.append(doomed)
        assert doomed.proc.wait(60) == CRASH_EXIT_CODE
        # Batches are per partition and as large as what the fetch found: a partition's smaller batch may
        # have committed before the one the replica died in, whose rows must never commit (fewer than 7).
        before = applied(reader_db)
        assert len(before) < 7
        replicas.append(Replica(reader_db.url, transport, "survivor"))
        wait_until(lambda: len(applied(reader_db)) >= 400, what="the survivor to apply everything")
    finally:
        relay.stop()
    rows = assert_once_in_order(reader_db, owner_db)
    assert [dict(r) for r in rows if r["replica"] == "doomed"] == [dict(r) for r in before]  # kept, once
    assert len([r for r in rows if r["replica"] == "survivor"]) == 400 - len(before)


def both_applied(reader_db, owner_db, people) -> bool:
    """Whether both replicas have applied events since the second started (adds a few more each time)."""
    if {r["replica"] for r in applied(reader_db)[100:]} == {"first", "second"}:
        return True
    record(owner_db, people, 5)
    return False


def test_partition_handed_over_to_another_replica_loses_nothing_and_applies_nothing_twice(
    owner_db, reader_db, transport, replicas
):
    people = customers(30)
    relay = start_relay(owner_db, transport)
    try:
        first = Replica(reader_db.url, transport, "first")
        replicas.append(first)
        record(owner_db, people, 100)
        wait_until(lambda: len(applied(reader_db)) >= 100, what="the first replica")
        replicas.append(Replica(reader_db.url, transport, "second"))  # the first gives half its partitions up
        record(owner_db, people, 100)
        wait_until(lambda: len(applied(reader_db)) >= 200, what="both replicas")
        wait_until(lambda: both_applied(reader_db, owner_db, people), what="the second replica to hold partitions")
        assert first.stop() == 0  # a clean stop releases its leases: the second takes every partition
        record(owner_db, people, 100)
        wait_until(lambda: relay.mark == relay.head and len(applied(reader_db)) >= relay.mark, what="the rest")
    finally:
        relay.stop()
    rows = assert_once_in_order(reader_db, owner_db)
    assert {r["replica"] for r in rows[-50:]} == {"second"}


def test_three_replicas_share_the_feed_and_keep_each_customers_order(owner_db, reader_db, transport, replicas):
    people = customers(40)
    relay = start_relay(owner_db, transport)
    try:
        for name in ("a", "b", "c"):
            replicas.append(Replica(reader_db.url, transport, name))
        record(owner_db, people, 100)  # events come while the replicas share out the partitions
        wait_until(lambda: set(lease_holders(transport).values()) == {"a", "b", "c"}, what="three holders")
        wait_until(lambda: len(lease_holders(transport)) == transport.partitions, what="every partition held")
        for _ in range(5):
            record(owner_db, people, 100)
            time.sleep(0.2)
        wait_until(lambda: relay.mark == 600 and len(applied(reader_db)) >= 600, timeout=90, what="every event")
    finally:
        relay.stop()
    rows = assert_once_in_order(reader_db, owner_db)
    assert {r["replica"] for r in rows[100:]} == {"a", "b", "c"}


def test_jetstream_feeds_without_a_broker_is_refused():
    with pytest.raises(ValidationError, match="jetstream_feeds needs nats_url"):
        EventTransportSettings(jetstream_feeds="profile")
    assert EventTransportSettings(
        nats_url="nats://x:4222", jetstream_feeds="profile, feedback"
    ).jetstream_feed_names() == {
        "profile",
        "feedback",
    }


def test_partition_of_is_crc32_of_the_subject_modulo_the_count():
    subject = "c0ffee00-0000-4000-8000-000000000000"
    assert partition_of(subject, 8) == zlib.crc32(subject.encode()) % 8
    assert {partition_of(str(uuid.uuid4()), 8) for _ in range(200)} == set(range(8))


def test_a_partition_whose_batch_fails_holds_back_no_other_and_loses_nothing(owner_db, reader_db, transport):
    """The runner applies every partition's queued batches in one transaction; when that fails, each
    partition's again on its own: the others commit, the failing one restarts from its first
    unacknowledged message, and nothing it had queued behind the failed batch is applied before it."""
    people = customers(40)
    poisoned = people[0]
    stuck = partition_of(poisoned, transport.partitions)
    record(owner_db, people, 400)
    relay = start_relay(owner_db, transport)
    _, cursor, table = tables()
    poison = {"on": True}

    def handle(s, e):
        if poison["on"] and e.subject_id == poisoned:
            raise RuntimeError("a handler that fails until fixed")
        s.execute(
            table.insert().values(event_id=e.event_id, subject_id=e.subject_id, position=e.position, replica="solo")
        )

    consumer = FeedConsumer(
        name="reader",
        db=reader_db,
        cursor_table=cursor,
        handlers={EVENT_TYPE: handle},
        client=None,
        feed_url="",
        token=str,
        batch_size=20,
        feed=OWNER,
    )
    runner = JetStreamRunner(consumer, transport, fetch_wait_seconds=0.2, replica="solo")
    others = 400 - sum(1 for p in people * 10 if partition_of(p, transport.partitions) == stuck)
    try:
        wait_until(lambda: relay.mark == 400, what="the relay")
        runner.start()
        wait_until(
            lambda: (
                sum(partition_of(r["subject_id"], transport.partitions) != stuck for r in applied(reader_db)) >= others
            ),
            what="every other partition",
        )
        rows = applied(reader_db)
        first = next(i for i, p in enumerate(people * 10) if p == poisoned) + 1  # its first event's position
        assert all(r["position"] < first for r in rows if partition_of(r["subject_id"], transport.partitions) == stuck)
        assert consumer.health.failures["apply"] > 0
        poison["on"] = False
        wait_until(lambda: len(applied(reader_db)) >= 400, what="the stuck partition, once fixed")
    finally:
        runner.stop()
        relay.stop()
    assert_once_in_order(reader_db, owner_db)


def test_a_partitions_batches_merged_for_one_transaction_leave_out_late_duplicates():
    def batch(*positions):
        b = Batch(
            [
                Event(
                    position=p,
                    event_id=f"e{p}",
                    type=EVENT_TYPE,
                    occurred_at=datetime.now(UTC),
                    subject_id="s",
                    data={},
                )
                for p in positions
            ]
        )
        b.cursor = "reader.p1"
        return b

    queued = [
        _Queued(1, 0, batch(3, 4, 5), "last-a", None),
        _Queued(2, 0, batch(7), "last-b", None),
        _Queued(1, 0, batch(4, 5, 6), "last-c", None),  # 4 and 5 again: a relay's late duplicates
    ]
    parts = _by_partition(queued)  # type: ignore[arg-type]
    assert [e.position for e in parts[1][0]] == [3, 4, 5, 6] and parts[1][1] == "last-c"
    assert parts[1][0].cursor == "reader.p1" and [e.position for e in parts[2][0]] == [7]


def test_what_a_partition_queued_behind_a_failed_batch_is_never_applied():
    """Had the batch fetched after a failed one been applied, its partition's cursor would move past the
    failed batch's events: the applier voids it at once, and the partition fetches both again."""
    applied_positions = []
    acks = []

    class Consumer:
        name, feed, batch_size, feed_url = "reader", OWNER, 20, ""
        health = PollHealth()

        def apply(self, events):
            if any(e.event_id == "poison" for e in events):
                raise RuntimeError("a handler that fails")
            applied_positions.append([e.position for e in events])
            return len(events)

    class Last:
        async def ack(self):
            acks.append(self)

    def batch(k, *positions, poison=False):
        events = [
            Event(
                position=p,
                event_id="poison" if poison else f"e{p}",
                type=EVENT_TYPE,
                occurred_at=datetime.now(UTC),
                subject_id="s",
                data={},
            )
            for p in positions
        ]
        b = Batch(events)
        b.cursor = f"reader.p{k}"
        return b

    runner = JetStreamRunner(Consumer(), Transport(url="nats://127.0.0.1:1"), replica="solo")  # type: ignore[arg-type]

    async def scenario():
        runner._ready = asyncio.Queue()
        applier = asyncio.create_task(runner._applier())
        loop = asyncio.get_running_loop()
        failed = _Queued(1, runner._epoch[1], batch(1, 1, 2, poison=True), Last(), loop.create_future())
        runner._ready.put_nowait(failed)
        with pytest.raises(RuntimeError):
            await failed.done
        behind = _Queued(1, 0, batch(1, 3, 4), Last(), loop.create_future())  # fetched before the failure
        other = _Queued(2, runner._epoch[2], batch(2, 10), Last(), loop.create_future())
        runner._ready.put_nowait(behind)
        runner._ready.put_nowait(other)
        await other.done
        assert not behind.done.done()
        applier.cancel()

    try:
        asyncio.run(scenario())
    finally:
        runner._apply.shutdown()
    assert applied_positions == [[10]] and len(acks) == 1
