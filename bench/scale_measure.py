"""The scale run's measurements against loaded databases (bench.scale): the suite's processes on them,
bulk registration and transaction ingest through profile's API, the daily recompute, the overview's
latency under load through the gateway, the earning consumer on JetStream with 1 and 2 replicas, and
each process's memory."""

import asyncio
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

from bench import wrk
from bench.loyalty_bench import drop_streams, publish, transaction_events
from bench.procs import Pinning, Server, ServerError, Tracked, free_port
from bench.profile_bench import register_in_bulk
from bench.scale_load import CHANNELS, customer_id
from bench.seed import open_bench_branches
from bench.segmentation_bench import NOW as SEGMENTATION_NOW
from bench.segmentation_bench import recompute
from services.common.auth import Principal, mint_token
from services.common.config import DEV_JWT_SECRET
from services.common.db import Database
from services.common.jetstream import Transport
from services.feedback.config import FeedbackSettings
from services.loyalty.app import build_policy
from services.loyalty.config import LoyaltySettings
from services.loyalty.service.classes import ClassCatalogue
from services.loyalty.service.rules import RuleParams, create_rule
from services.segmentation.config import SegmentationSettings

ROOT = Path(__file__).resolve().parent.parent
READ_LUA = ROOT / "bench" / "lua" / "read.lua"
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
APPS = {
    "profile": "services.profile.app:create_app",
    "segmentation": "services.segmentation.app:create_app",
    "feedback": "services.feedback.app:create_app",
    "loyalty": "services.loyalty.app:create_app",
    "gateway": "gateway.app:create_app",
}
FEED_SETTINGS = {"segmentation": SegmentationSettings, "feedback": FeedbackSettings, "loyalty": LoyaltySettings}
OWN_PREFIXES = ("SUITE_", "PROFILE_", "SEGMENTATION_", "FEEDBACK_", "LOYALTY_", "GATEWAY_")
UNLIMITED = {"GATEWAY_RATE_LIMIT_READS": "100000000/minute", "GATEWAY_RATE_LIMIT_WRITES": "100000000/minute"}


def staff_token() -> str:
    return mint_token(DEV_JWT_SECRET, sub="scale", role="staff", branch="BR0001", ttl_seconds=7200)


def system_token() -> str:
    scope = "transactions:write customers:write"
    return mint_token(DEV_JWT_SECRET, sub="scale-core", role="system", scope=scope, ttl_seconds=7200)


def service_env(service: str, urls: dict[str, str], **extra: str) -> dict[str, str]:
    """The process's environment: its database, every HTTP feed off (the data is loaded, not fed),
    nothing inherited from a suite this shell may run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    env |= {"SUITE_JWT_SECRET": DEV_JWT_SECRET, f"{service.upper()}_LOG_LEVEL": "WARNING"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    if service in urls:
        env[f"{service.upper()}_DATABASE_URL"] = urls[service]
    settings = FEED_SETTINGS.get(service)
    for field in settings.model_fields if settings else ():
        if field.endswith("_feed_url"):
            env[f"{service.upper()}_{field.upper()}"] = ""
    return env | extra


class Processes:
    """The suite's processes on the scale databases, each one uvicorn worker, stopped together."""

    def __init__(self, urls: dict[str, str], tmp: Path, pinning: Pinning, tracked: Tracked):
        self.urls, self.tmp, self.pinning, self.tracked = urls, tmp, pinning, tracked
        self.servers: dict[str, Server] = {}

    def start(self, name: str, service: str | None = None, cpu: int | None = None, **extra: str) -> Server:
        service = service or name
        srv = Server(
            name,
            APPS[service],
            port=free_port(),
            env=service_env(service, self.urls, **extra),
            cpu=cpu,
            pinning=self.pinning,
            tracked=self.tracked,
            log_dir=self.tmp,
            python=sys.executable,
        )
        self.servers[name] = srv.start(timeout=60)
        return srv

    def start_suite(self) -> None:
        for service in ("profile", "segmentation", "feedback", "loyalty"):
            self.start(service, cpu=self.pinning.server_cpu)
        open_bench_branches(self.servers["profile"].url)
        gateway = {
            f"GATEWAY_{s.upper()}_URL": self.servers[s].url for s in ("profile", "segmentation", "feedback", "loyalty")
        }
        self.start("gateway", cpu=self.pinning.server_cpu, **gateway, **UNLIMITED)

    def memory_mb(self) -> dict[str, float | None]:
        return {name: srv.rss_mb() for name, srv in self.servers.items()}

    def stop(self, name: str) -> None:
        self.servers.pop(name).stop()

    def stop_all(self) -> None:
        for name in list(self.servers):
            self.stop(name)


def registration_rate(profile_url: str, calls: int) -> float:
    """Customers/s registered through POST /v1/customers:batch, 1,000 per call."""
    with httpx.Client(base_url=profile_url, timeout=300.0) as client:
        return register_in_bulk(client, system_token(), calls)


def _txn_batches(customers: int, calls: int, now: datetime) -> Iterator[list[dict]]:
    rnd, run = random.Random(5), uuid.uuid4().hex[:8]
    for c in range(calls):
        yield [
            {
                "external_id": f"I{run}-{c}-{k}",
                "customer_id": str(customer_id(rnd.randrange(customers))),
                "kind": "deposit",
                "amount": f"{100 + k % 900}.{k % 100:02d}",
                "channel": CHANNELS[k % 4],
                "occurred_at": (now - timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            for k in range(1000)
        ]


def ingest_rate(profile_url: str, customers: int, calls: int, concurrency: int = 2) -> float:
    """Transactions/s through POST /v1/transactions:batch, 1,000 per call over random loaded customers,
    `concurrency` callers at once."""
    batches = list(_txn_batches(customers, calls, datetime.now(UTC)))
    headers = {"Authorization": f"Bearer {system_token()}"}
    with httpx.Client(base_url=profile_url, timeout=300.0, headers=headers) as client:

        def send(batch: list[dict]) -> None:
            resp = client.post("/v1/transactions:batch", json={"items": batch})
            if resp.status_code != 200 or resp.json()["recorded_count"] != len(batch):
                raise ServerError(f"transactions batch: HTTP {resp.status_code} {resp.text[:300]}")

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(send, batches))
        return calls * 1000 / (time.perf_counter() - started)


def recompute_seconds(url: str) -> tuple[float, int]:
    """The daily recompute the day after the loaded state: (seconds, customers whose class changed)."""
    db = Database(url)
    settings = SegmentationSettings(
        environment="test", database_url=url, profile_feed_url="", loyalty_feed_url="", feedback_feed_url=""
    )
    try:
        seconds, job, _ = recompute(db, settings, SEGMENTATION_NOW + timedelta(days=1))
        return seconds, job.changed
    finally:
        db.dispose()


def overview_latency(
    gateway_url: str, customers: int, tmp: Path, pinning: Pinning, tracked: Tracked, seconds: int, connections: int
) -> wrk.WrkResult:
    """GET /api/v1/customers/{id}/overview over 2,000 random loaded customers, wrk with `connections`
    connections for `seconds` (after a 2 s warm-up)."""
    rnd = random.Random(3)
    ids = tmp / f"overview-{customers}.txt"
    ids.write_text("".join(f"{customer_id(rnd.randrange(customers))}/overview\n" for _ in range(2000)))
    shape = wrk.LoadShape(seconds=seconds, warmup=2, connections=connections, threads=1, timeout=10)
    wrk_bin = wrk.ensure_wrk()
    args = [str(ids), staff_token(), "/api/v1/customers/"]
    wrk.run(wrk_bin, gateway_url, shape, pinning, tracked, seconds=2, script=str(READ_LUA), script_args=args)
    return wrk.run(
        wrk_bin, gateway_url, shape, pinning, tracked, seconds=seconds, script=str(READ_LUA), script_args=args
    )


def overview_parts(gateway_url: str, customers: int) -> list[str]:
    """The parts one overview could not fill (empty when every service answered)."""
    cid = customer_id(customers // 2)
    resp = httpx.get(
        f"{gateway_url}/api/v1/customers/{cid}/overview",
        headers={"Authorization": f"Bearer {staff_token()}"},
        timeout=30,
    )
    if resp.status_code != 200:
        raise ServerError(f"overview: HTTP {resp.status_code} {resp.text[:300]}")
    return [f"{p['part']}:{p['reason']}" for p in resp.json()["partial"]]


def earning_rule(url: str) -> None:
    """Deposits earn 10 points per 100 CNY, no caps: every event below earns, one ledger entry each."""
    db = Database(url)
    policy = build_policy(LoyaltySettings(database_url=url), lambda: datetime.now(UTC))
    params = RuleParams(
        kind="deposit",
        channel=None,
        points_per_100_cny=10,
        min_amount_fen=0,
        daily_cap=None,
        monthly_cap=None,
        multipliers=[],
        valid_from=datetime(2020, 1, 1, tzinfo=UTC),
        valid_until=None,
    )
    sup = Principal(sub="scale", role="supervisor")
    create_rule(db, code="scale", name="scale", actor=sup, policy=policy, classes=ClassCatalogue(None), params=params)
    db.dispose()


def _ledger_top(db: Database) -> int:
    with db.read() as s:
        return int(s.execute(text("SELECT coalesce(max(id), 0) FROM points_ledger_entry_key")).scalar())


def _earned(db: Database, above: int) -> int:
    """Earning entries after entry `above`: a range of the primary key's index, polled every 50 ms, where
    a count over the whole ledger (millions of loaded rows) would take the consumer's CPU and time itself."""
    sql = "SELECT count(*) FROM points_ledger_entry WHERE id > :above AND source = 'transaction'"
    with db.read() as s:
        return int(s.execute(text(sql), {"above": above}).scalar())


@contextmanager
def _prefix() -> Iterator[Transport]:
    transport = Transport(url=NATS_URL, prefix=f"scale{os.getpid() % 100000}{uuid.uuid4().hex[:4]}", lease_seconds=2)
    try:
        yield transport
    finally:
        asyncio.run(drop_streams(NATS_URL, transport))


def consumer_rate(
    procs: Processes, customers: int, events: int, replicas: int, first: int = 1, timeout: float = 300
) -> float:
    """Events/s applied by the loyalty earning consumer on JetStream with `replicas` loyalty processes
    (own subject prefix, leases of 2 s): the processes start and share the partitions, then the events
    are published to profile's stream and timed from the first publish to the last one applied. Their
    positions start at `first`: the partitions' cursors stay in the database from run to run, so a later
    run must continue past the earlier one's."""
    db = Database(procs.urls["loyalty"])
    with _prefix() as transport:
        extra = {
            "LOYALTY_NATS_URL": NATS_URL,
            "LOYALTY_NATS_SUBJECT_PREFIX": transport.prefix,
            "LOYALTY_NATS_LEASE_SECONDS": "2",
            "LOYALTY_NATS_RELAY": "false",
            "LOYALTY_JETSTREAM_FEEDS": "profile",
            # Consumed from JetStream; the HTTP address is only what the consumer is named after.
            "LOYALTY_PROFILE_FEED_URL": "http://127.0.0.1:9/v1/events",
        }
        names = [f"loyalty-js{replicas}-{r}" for r in range(replicas)]
        cpus = [procs.pinning.server_cpu, procs.pinning.load_cpu]
        for r, name in enumerate(names):
            procs.start(name, "loyalty", cpu=cpus[r % 2], **extra)
        time.sleep(3 * 2)  # leases settle: each replica holds its share
        try:
            top = _ledger_top(db)
            before = _earned(db, top)
            feed = transaction_events([customer_id(i) for i in range(customers)], events, start=first)
            started = time.perf_counter()
            asyncio.run(publish(NATS_URL, transport, feed))
            deadline = time.monotonic() + timeout
            while _earned(db, top) - before < events:
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"{replicas} replica(s): {_earned(db, top) - before} of {events} applied in {timeout} s"
                    )
                time.sleep(0.05)
            return events / (time.perf_counter() - started)
        finally:
            for name in names:
                procs.stop(name)
            db.dispose()
