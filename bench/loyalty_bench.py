"""Loyalty benchmark (`python -m bench.loyalty_bench`): transaction.recorded events applied per second by
the earning consumer on SQLite (aim 2,000/s), in batches as the feed serves them, against the real
rules, caps and multipliers; then successful redemptions per second from racing threads over a small
pool of accounts and one reward (contention on account and stock rows), on SQLite and, when
reachable, PostgreSQL; and the time from a transaction's ingest in a real profile process to its points
being visible in a real loyalty process (p50, p99). Short runs; a report, not a test: it exits 0 when an
aim is missed."""

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.seed import open_bench_branches
from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict
from services.common.jetstream import Transport, ensure_stream, event_message
from services.common.jetstream_consumer import JetStreamRunner
from services.common.outbox import Event
from services.loyalty.app import build_policy
from services.loyalty.config import LoyaltySettings
from services.loyalty.consumers import LoyaltyConsumer
from services.loyalty.service import rewards
from services.loyalty.service.accounts import check_balances, ensure_account
from services.loyalty.service.classes import ClassCatalogue
from services.loyalty.service.ledger import Posting, commit, credit
from services.loyalty.service.rewards import RedeemRequest
from services.loyalty.service.rules import RuleParams, create_rule

ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "services" / "loyalty" / "alembic.ini"
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AIM_LATENCY_P99_MS = 50
NO_RULE_SEGMENTS = ClassCatalogue(None)  # the rule and reward here name no class
AIM_EVENTS_PER_S = 2000
AIM_JETSTREAM_EVENTS_PER_S = 5000
SUP = Principal(sub="bench", role="supervisor")
START = datetime(2026, 3, 1, tzinfo=UTC)


def _migrate(url: str) -> None:
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")


def _fresh_pg(name: str = "bench_loyalty") -> str | None:
    """A fresh PostgreSQL database `name` (dropped first), or None when PostgreSQL is not reachable."""
    try:
        admin = create_engine(
            PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 3},
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as err:  # noqa: BLE001 - PostgreSQL is optional here
        print(f"  PostgreSQL not reachable ({type(err).__name__}); its figure is skipped")
        return None
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _fund(db: Database, policy, n: int, points: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    with db.write() as s:
        for cid in ids:
            account = ensure_account(s, cid, via="staff", policy=policy)
            if points:
                credit(s, account, kind="adjust", points=points, policy=policy, posting=Posting(source="manual"))
        commit(s, policy)
    return ids


def transaction_events(customers: list[uuid.UUID], n: int, start: int = 1) -> list[Event]:
    """n transaction.recorded deposits of random customers, at positions from `start`."""
    rng = random.Random(7 + start)
    return [
        Event(
            position=p,
            event_id=str(uuid.uuid4()),
            type="transaction.recorded",
            occurred_at=START,
            subject_id=str(rng.choice(customers)),
            data={
                "transaction_id": str(uuid.uuid4()),
                "external_id": f"B{p}",
                "kind": "deposit",
                "amount": "100.00",
                "amount_fen": rng.randrange(1_000, 5_000_000),
                "channel": rng.choice(("counter", "mobile", "atm", "online")),
                "occurred_at": (START + timedelta(seconds=p)).isoformat(),
                "customer_initiated": True,
                "reverses_external_id": None,
            },
        )
        for p in range(start, start + n)
    ]


def bench_earning(url: str, events: int, batch: int) -> float:
    db = Database(url)
    policy = build_policy(LoyaltySettings(database_url=url), lambda: START + timedelta(days=1))
    customers = _fund(db, policy, 2000, 0)
    _deposit_rule(db, policy)
    consumer = LoyaltyConsumer(feed="profile", policy=policy, db=db, client=None, feed_url="", token=lambda: "")
    feed = transaction_events(customers, events)
    started = time.perf_counter()
    for i in range(0, len(feed), batch):
        consumer.apply(feed[i : i + batch])
    elapsed = time.perf_counter() - started
    assert consumer.position() == events and check_balances(db)[1] == []
    db.dispose()
    return events / elapsed


async def publish(nats_url: str, transport: Transport, feed: list[Event]) -> None:
    """Publishes `feed` to profile's stream of `transport` (created when absent) as the relay would."""
    nc = await nats.connect(nats_url, connect_timeout=3, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        await ensure_stream(js, transport, "profile")
        acks = []
        for event in feed:
            subject, body, headers = event_message(transport, "profile", event)
            acks.append(await js.publish_async(subject, body, headers=headers))
        await asyncio.gather(*acks)
    finally:
        await nc.close()


async def drop_streams(nats_url: str, transport: Transport) -> None:
    """Deletes profile's stream of `transport` and its lease bucket (each when present)."""
    nc = await nats.connect(nats_url, connect_timeout=3, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        for name in (transport.stream("profile"), f"KV_{transport.lease_bucket}"):
            with contextlib.suppress(Exception):  # absent already
                await js.delete_stream(name)
    finally:
        await nc.close()


def bench_earning_jetstream(url: str, events: int, batch: int, nats_url: str) -> float | None:
    """The same earning consumer read through JetStream by one replica (all partitions): the events are
    published to a stream of this run's own first, then timed from the runner's start until every one
    is applied. None when no NATS server answers."""
    transport = Transport(url=nats_url, prefix=f"bench{os.getpid()}", lease_seconds=5)
    db = Database(url)
    policy = build_policy(LoyaltySettings(database_url=url), lambda: START + timedelta(days=1))
    customers = _fund(db, policy, 2000, 0)
    _deposit_rule(db, policy)
    feed = transaction_events(customers, events)

    try:
        asyncio.run(publish(nats_url, transport, feed))
    except Exception:  # noqa: BLE001 - no broker here: the figure is left out
        db.dispose()
        return None
    consumer = LoyaltyConsumer(feed="profile", policy=policy, db=db, client=None, feed_url="", token=lambda: "")
    consumer.batch_size = batch
    applied = {"n": 0}
    apply = consumer.apply

    def counting(batch_events):  # type: ignore[no-untyped-def]
        n = apply(batch_events)
        applied["n"] += n
        return n

    consumer.apply = counting  # type: ignore[method-assign]
    runner = JetStreamRunner(consumer, transport, fetch_wait_seconds=0.5)
    started = time.perf_counter()
    runner.start()
    while applied["n"] < events:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    runner.stop()
    asyncio.run(drop_streams(nats_url, transport))
    assert check_balances(db)[1] == []
    db.dispose()
    return events / elapsed


def _deposit_rule(db: Database, policy) -> None:
    create_rule(
        db,
        code="deposits",
        name="deposits",
        actor=SUP,
        policy=policy,
        classes=NO_RULE_SEGMENTS,
        params=RuleParams(
            kind="deposit",
            channel=None,
            points_per_100_cny=10,
            min_amount_fen=1000,
            daily_cap=5000,
            monthly_cap=None,
            multipliers=[{"channel": "mobile", "segment": None, "factor_pct": 200}],
            valid_from=START,
            valid_until=None,
        ),
    )


def bench_redemptions(url: str, seconds: float, threads: int, accounts: int) -> tuple[float, int, int]:
    db = Database(url)
    policy = build_policy(LoyaltySettings(database_url=url))
    customers = _fund(db, policy, accounts, 10_000_000)
    reward = rewards.create_reward(
        db,
        policy=policy,
        classes=NO_RULE_SEGMENTS,
        fields={"code": "gift", "name": "gift", "type": "gift", "points_price": 10, "stock": 10_000_000},
    )
    ok, refused, stop = [0] * threads, [0] * threads, threading.Event()

    def worker(i: int) -> None:
        rng = random.Random(i)
        while not stop.is_set():
            try:
                rewards.redeem(
                    db,
                    request=RedeemRequest(rng.choice(customers), reward.id, 1),
                    actor=SUP,
                    idem=None,
                    present=None,
                    policy=policy,
                )
                ok[i] += 1
            except Conflict:
                refused[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    assert check_balances(db)[1] == []
    with db.read() as s:
        stock = s.execute(text("SELECT stock FROM reward")).scalar_one()
    assert stock == 10_000_000 - sum(ok), "stock and successful redemptions disagree"
    db.dispose()
    return sum(ok) / elapsed, sum(ok), sum(refused)


def _spawn(app: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.common.serve",  # as the suite serves (held long polls end at shutdown)
                app,
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"{app} did not start; see {log}")


def bench_latency(tmp: Path, samples: int, wait: float) -> list[float]:
    """Seconds from a transaction's ingest in profile to its points on the loyalty account, with a
    real profile and loyalty process and the consumer long-polling (`wait` seconds) when caught up."""
    from services.common.auth import mint_token
    from services.common.config import DEV_JWT_SECRET

    profile_db, loyalty_db = f"sqlite:///{tmp / 'lat-profile.db'}", f"sqlite:///{tmp / 'lat-loyalty.db'}"
    cfg = Config(str(ROOT / "services" / "profile" / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "services" / "profile" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", profile_db)
    command.upgrade(cfg, "head")
    _migrate(loyalty_db)
    common = {"JWT_SECRET": DEV_JWT_SECRET, "ENVIRONMENT": "test", "LOG_LEVEL": "WARNING"}
    procs = []
    try:
        profile, purl = _spawn(
            "services.profile.app:create_app",
            {"PROFILE_DATABASE_URL": profile_db, **{f"PROFILE_{k}": v for k, v in common.items()}},
            tmp / "p.log",
        )
        procs.append(profile)
        loyalty, lurl = _spawn(
            "services.loyalty.app:create_app",
            {
                "LOYALTY_DATABASE_URL": loyalty_db,
                "LOYALTY_PROFILE_FEED_URL": f"{purl}/v1/events",
                "LOYALTY_SEGMENTATION_FEED_URL": "",
                "LOYALTY_FEEDBACK_FEED_URL": "",
                "LOYALTY_FEED_WAIT_SECONDS": str(wait),
                **{f"LOYALTY_{k}": v for k, v in common.items()},
            },
            tmp / "l.log",
        )
        procs.append(loyalty)
        scopes = {"system": "transactions:write"}  # the bench's core banking records transactions only
        h = {
            role: {
                "Authorization": "Bearer "
                + mint_token(
                    DEV_JWT_SECRET,
                    sub=f"bench-{role}",
                    role=role,
                    scope=scopes.get(role),
                    branch="BR0001" if role in ("staff", "supervisor") else None,
                )
            }
            for role in ("staff", "supervisor", "system")
        }
        open_bench_branches(purl)
        with httpx.Client(timeout=10) as http:
            cid = http.post(
                f"{purl}/v1/customers",
                headers=h["staff"],
                json={
                    "type": "individual",
                    "name": "王小明",
                    "resident_id": "11010519491231002X",
                    "phone": "13812345678",
                    "region_type": "urban",
                    "province": "北京",
                    "city": "北京",
                    "branch_code": "BJ0001",
                },
            ).json()["id"]
            http.post(f"{lurl}/v1/loyalty/accounts", headers=h["staff"], json={"customer_id": cid}).raise_for_status()
            http.post(
                f"{lurl}/v1/loyalty/rules",
                headers=h["supervisor"],
                json={
                    "code": "deposits",
                    "name": "deposits",
                    "kind": "deposit",
                    "points_per_100_cny": 10,
                    "valid_from": "2026-01-01T00:00:00Z",
                },
            ).raise_for_status()
            latencies, balance = [], 0
            for i in range(samples):
                at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
                started = time.perf_counter()
                http.post(
                    f"{purl}/v1/transactions:batch",
                    headers=h["system"],
                    json={
                        "items": [
                            {
                                "external_id": f"LAT{i}",
                                "customer_id": cid,
                                "kind": "deposit",
                                "amount": "100.00",
                                "channel": "counter",
                                "occurred_at": at,
                            }
                        ]
                    },
                ).raise_for_status()
                while True:
                    now = http.get(f"{lurl}/v1/loyalty/accounts/{cid}", headers=h["staff"]).json()["balance"]
                    if now > balance:
                        break
                    if time.perf_counter() - started > 30:
                        raise RuntimeError("points did not appear within 30 s")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)
                balance = now
        return latencies
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loyalty_bench", description=__doc__)
    p.add_argument("--events", type=int, default=int(os.environ.get("BENCH_LOYALTY_EVENTS", 10_000)))
    p.add_argument("--batch", type=int, default=500, help="events per consumer batch (the feed page size)")
    p.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 5)))
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--accounts", type=int, default=20, help="accounts the racing redemptions share")
    p.add_argument("--latency-samples", type=int, default=20, help="ingest-to-points samples; 0 skips the figure")
    p.add_argument("--wait", type=float, default=20.0, help="the consumer's long poll when caught up (s)")
    p.add_argument("--runs", type=int, default=1, help="earning runs; the median is printed")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="loyalty-bench-"))
    print(f"loyalty benchmark, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    rates = []
    for run in range(args.runs):
        url = f"sqlite:///{tmp / f'earning{run}.db'}"
        _migrate(url)
        rates.append(bench_earning(url, args.events, args.batch))
    rate = statistics.median(rates)
    print(
        f"  earning consumer, SQLite: {rate:,.0f} events/s over {args.events:,} events in batches of "
        f"{args.batch} (aim {AIM_EVENTS_PER_S:,}/s: {rate / AIM_EVENTS_PER_S:.2f}x)"
    )
    nats_url = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
    for name, url in [("SQLite", f"sqlite:///{tmp / 'jetstream.db'}"), ("PostgreSQL", _fresh_pg())]:
        if url is None:
            continue
        _migrate(url)
        js_rate = bench_earning_jetstream(url, args.events, args.batch, nats_url)
        if js_rate is None:
            print(f"  earning consumer on JetStream: no NATS server at {nats_url}, left out")
            break
        ratio = js_rate / AIM_JETSTREAM_EVENTS_PER_S
        print(
            f"  earning consumer on JetStream, {name}, one replica, 8 partitions: {js_rate:,.0f} events/s over "
            f"{args.events:,} events (aim {AIM_JETSTREAM_EVENTS_PER_S:,}/s: {ratio:.2f}x)"
        )
    targets = [("SQLite", f"sqlite:///{tmp / 'redeem.db'}")]
    if (pg := _fresh_pg()) is not None:
        targets.append(("PostgreSQL", pg))
    for name, url in targets:
        _migrate(url)
        per_s, ok, refused = bench_redemptions(url, args.seconds, args.threads, args.accounts)
        print(
            f"  redemptions, {name}: {per_s:,.0f}/s ({ok:,} succeeded, {refused:,} refused) from {args.threads} "
            f"threads over {args.accounts} accounts and one reward's stock; ledger and stock checked"
        )
    if args.latency_samples:
        lat = sorted(bench_latency(tmp, args.latency_samples, args.wait))
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(
            f"  ingest in profile to points visible in loyalty: p50 {p50 * 1000:,.1f} ms, p99 {p99 * 1000:,.1f} ms "
            f"over {len(lat)} transactions, the consumer long-polling (aim p99 under {AIM_LATENCY_P99_MS} ms: "
            f"{'met' if p99 * 1000 < AIM_LATENCY_P99_MS else 'missed'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
