"""A consumer replica in its own process for the JetStream tests: a FeedConsumer read through
JetStreamRunner whose one handler records each event it applies in `applied` (in the batch's
transaction, like a real effect), so a test can count applications and read their order. With
`--crash-after N` the process dies in the middle of the batch holding its Nth event, before commit.

    python -m tests.common.jetstream_replica --db URL --nats URL --prefix P --name NAME [--crash-after N]
"""

import argparse
import logging
import os
import signal
import threading

import httpx
from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.orm import Session

from services.common.consumer import FeedConsumer, consumer_cursor_table
from services.common.db import Database
from services.common.jetstream import Transport
from services.common.jetstream_consumer import JetStreamRunner
from services.common.outbox import Event

CRASH_EXIT_CODE = 9
OWNER = "owner"  # the feed's owner in these tests: its stream is <PREFIX>_OWNER
EVENT_TYPE = "thing.happened"


def tables() -> tuple[MetaData, Table, Table]:
    metadata = MetaData()
    cursor = consumer_cursor_table(metadata)
    applied = Table(
        "applied",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False),  # not unique: a second application must show
        Column("subject_id", String(64), nullable=False),
        Column("position", Integer, nullable=False),
        Column("replica", String(40), nullable=False),
    )
    return metadata, cursor, applied


def build(db: Database, transport: Transport, name: str, replica: str, crash_after: int = 0) -> JetStreamRunner:
    _, cursor, applied = tables()
    count = {"n": 0}

    def handle(s: Session, e: Event) -> None:
        s.execute(
            insert(applied).values(event_id=e.event_id, subject_id=e.subject_id, position=e.position, replica=replica)
        )
        count["n"] += 1
        if crash_after and count["n"] >= crash_after:
            os._exit(CRASH_EXIT_CODE)  # mid-batch: this batch's rows are never committed

    consumer = FeedConsumer(
        name=name,
        db=db,
        cursor_table=cursor,
        handlers={EVENT_TYPE: handle},
        client=httpx.Client(),
        feed_url="",
        token=str,
        batch_size=20,
        feed=OWNER,
    )
    return JetStreamRunner(consumer, transport, fetch_wait_seconds=0.2, replica=replica)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--nats", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--name", default="reader")
    p.add_argument("--replica", required=True)
    p.add_argument("--lease-seconds", type=float, default=2.0)
    p.add_argument("--crash-after", type=int, default=0)
    args = p.parse_args()
    # what a session or a partition ran into, on stderr: pytest shows it beside a failed test
    logging.basicConfig(level=logging.WARNING, format=f"{args.replica} %(asctime)s %(name)s %(message)s")
    for name in ("consumer", "jetstream"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    transport = Transport(url=args.nats, prefix=args.prefix, lease_seconds=args.lease_seconds)
    runner = build(Database(args.db), transport, args.name, args.replica, args.crash_after)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    runner.start()
    done.wait()
    runner.stop()


if __name__ == "__main__":
    main()
