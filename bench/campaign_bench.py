"""Campaign benchmark (`python -m bench.campaign_bench`): a campaign launched to 1,000,000 customers on
PostgreSQL (the audience taken from loyalty's segment copy, filtered by do-not-contact, consent,
contactability and the frequency cap, and one outreach record queued per customer left, in the approval's
one transaction; aim 60 s or less), then app push delivery by the real worker to Mosquitto (aim 2,000
messages/s), every message counted by a subscriber on the customers' topics. The loading of the copies
(COPY) is not timed. A report, not a test: it exits 0 when an aim is missed."""

import argparse
import io
import multiprocessing
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
from sqlalchemy import func, select, text

from bench.loyalty_bench import _fresh_pg, _migrate
from services.common.auth import Principal
from services.common.db import Database
from services.loyalty.models import Campaign, Outreach
from services.loyalty.service.campaigns import launch
from services.loyalty.service.delivery.push import PushPublisher
from services.loyalty.service.delivery.worker import DeliveryRules, DeliveryWorker

AIM_LAUNCH_SECONDS = 60.0
AIM_PUSH_PER_S = 2000.0
NOW = datetime.now(UTC)
CHECKER = Principal("bench-checker", "admin")


def _load(url: str, customers: int, pushed: int) -> None:
    """`customers` members of customer_type:individual with reach rows (1 in 10 without marketing consent,
    1 in 50 do-not-contact), and `pushed` members of a rule segment for the push run: by COPY."""
    seg, reach = io.StringIO(), io.StringIO()
    at = NOW.isoformat()
    for i in range(customers):
        cid = uuid.uuid4()
        seg.write(f"{cid}\tcustomer_type\tindividual\t{at}\n")
        if i < pushed:
            seg.write(f"{cid}\trule:bench\tmember\t{at}\n")
        marketing = "" if i % 10 == 9 else ",app_push,"
        reach.write(f"{cid}\t\\N\tt\t{'t' if i % 50 == 49 else 'f'}\t{marketing}\t,app_push,\t{at}\n")
    raw = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        for table, cols, buf in (
            ("customer_segment", "customer_id, scheme, class_name, changed_at", seg),
            (
                "customer_reach",
                "customer_id, branch_code, is_active, do_not_contact, marketing_channels, reachable_channels, "
                "changed_at",
                reach,
            ),
        ):
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # noqa: S608 - fixed names
                copy.write(buf.getvalue())
        cur.execute("ANALYZE customer_segment")
        cur.execute("ANALYZE customer_reach")


def _campaign(db: Database, audience: str, purpose: str = "marketing") -> uuid.UUID:
    with db.write() as s:
        c = Campaign(
            name="bench",
            audience=audience,
            channel="app_push",
            purpose=purpose,
            template="尊敬的客户，您的积分余额为{points_balance}。",
            attribution_days=30,
            send_from=NOW - timedelta(minutes=1),
            send_until=NOW + timedelta(days=1),
            quiet_start="00:00",
            quiet_end="00:00",
            status="draft",
            created_by="bench",
        )
        s.add(c)
        s.commit()
        return c.id


def bench_launch(db: Database) -> tuple[float, dict[str, int]]:
    campaign_id = _campaign(db, "customer_type:individual")
    started = time.perf_counter()
    with db.write() as s:
        counts = launch(s, s.get(Campaign, campaign_id), actor=CHECKER, now=NOW, cap=2, cap_days=7)
        s.commit()
    seconds = time.perf_counter() - started
    with db.write() as s:  # its million messages are not the push run's
        s.get(Campaign, campaign_id).status = "cancelled"
        s.execute(text("TRUNCATE outreach"))
        s.commit()
    return seconds, counts


def _subscribe(host: str, port: int, prefix: str, count: Any, ready: Any, stop: Any) -> None:
    """The subscriber's process: counts every message on the customers' topics (QoS 1) into `count`."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_a, **_k: c.subscribe(f"$share/bench/{prefix}/customers/+/inbox", qos=1)
    client.on_subscribe = lambda *_a, **_k: ready.set()

    def on_message(*_a: Any) -> None:
        with count.get_lock():
            count.value += 1

    client.on_message = on_message
    client.connect(host, port)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()


class _Counter:
    """Subscribers in processes of their own, as apps are, sharing the customers' topics (an MQTT shared
    subscription): one subscriber in the worker's process competes with the publisher for the interpreter,
    falls behind, and the broker drops what overflows its queue for that subscriber."""

    def __init__(self, host: str, port: int, prefix: str, processes: int = 2):
        ctx = multiprocessing.get_context("spawn")
        self._count, self._stop = ctx.Value("q", 0), ctx.Event()
        readies = [ctx.Event() for _ in range(processes)]
        self._processes = [
            ctx.Process(target=_subscribe, args=(host, port, prefix, self._count, ready, self._stop), daemon=True)
            for ready in readies
        ]
        for process in self._processes:
            process.start()
        if not all(ready.wait(20) for ready in readies):
            self.stop()
            raise RuntimeError("a subscriber was not acknowledged")

    @property
    def count(self) -> int:
        return int(self._count.value)

    def stop(self) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.kill()


def bench_push(db: Database, host: str, port: int, batch: int) -> tuple[float, int, int]:
    """(messages/s, sent, received): the worker's passes until nothing of the campaign is queued."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    campaign_id = _campaign(db, "rule:bench:member", purpose="service")
    with db.write() as s:
        launch(s, s.get(Campaign, campaign_id), actor=CHECKER, now=NOW, cap=2, cap_days=7)
        s.commit()
    counter = _Counter(host, port, prefix)
    publisher = PushPublisher(host, port, prefix)
    worker = DeliveryWorker(db, [publisher], DeliveryRules(zone=ZoneInfo("Asia/Shanghai"), batch=batch), lambda: NOW)
    queued = (
        select(func.count())
        .select_from(Outreach)
        .where(Outreach.campaign_id == campaign_id, Outreach.state == "queued")
    )
    started = time.perf_counter()
    try:
        while True:
            worker.run_once()
            with db.read() as s:
                if s.execute(queued).scalar_one() == 0:
                    break
        elapsed = time.perf_counter() - started
        with db.read() as s:
            sent = s.execute(
                select(func.count())
                .select_from(Outreach)
                .where(Outreach.campaign_id == campaign_id, Outreach.state == "sent")
            ).scalar_one()
        deadline = time.monotonic() + 30
        while counter.count < sent and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        publisher.close()
        counter.stop()
    return sent / elapsed, sent, counter.count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.campaign_bench", description=__doc__)
    p.add_argument("--customers", type=int, default=int(os.environ.get("BENCH_CAMPAIGN_CUSTOMERS", 1_000_000)))
    p.add_argument("--pushed", type=int, default=int(os.environ.get("BENCH_PUSH_MESSAGES", 20_000)))
    p.add_argument("--batch", type=int, default=2000, help="messages the worker claims per pass")
    p.add_argument(
        "--database",
        default=os.environ.get("BENCH_CAMPAIGN_DATABASE", "bench_campaign"),
        help="the PostgreSQL database the bench drops and makes afresh",
    )
    p.add_argument("--mqtt-host", default=os.environ.get("BENCH_MQTT_HOST", "127.0.0.1"))
    p.add_argument("--mqtt-port", type=int, default=int(os.environ.get("BENCH_MQTT_PORT", 1883)))
    args = p.parse_args(argv)
    print(f"campaign benchmark, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    url = _fresh_pg(args.database)
    if url is None:
        return 0
    _migrate(url)
    db = Database(url)
    try:
        _load(url, args.customers, args.pushed)
        seconds, counts = bench_launch(db)
        print(
            f"  launch to {args.customers:,} customers, PostgreSQL: {seconds:.1f} s "
            f"(aim <= {AIM_LAUNCH_SECONDS:.0f} s, ratio {AIM_LAUNCH_SECONDS / seconds:.2f}); funnel {counts}"
        )
        try:
            rate, sent, received = bench_push(db, args.mqtt_host, args.mqtt_port, args.batch)
        except (OSError, RuntimeError) as err:
            print(f"  app push: Mosquitto not reachable ({type(err).__name__}); skipped")
            return 0
        print(
            f"  app push over MQTT (QoS 1): {rate:,.0f} messages/s over {sent:,} "
            f"(aim >= {AIM_PUSH_PER_S:,.0f}/s, ratio {rate / AIM_PUSH_PER_S:.2f}); received {received:,} of {sent:,}"
        )
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
