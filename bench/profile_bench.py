"""Profile's bulk figures: batch ingest through the API (transactions/s, 1,000 per call) and bulk
registration (customers/s, 1,000 per call to POST /v1/customers:batch) on SQLite and PostgreSQL, and
GET /v1/customers/{id}/summary requests/s for a customer with 10,000 transactions (wrk in a separate
pinned process). Short by design; a report, not a test.

    python -m bench.profile_bench [--batches 10] [--customer-batches 5] [--seconds 5] [--skip-postgres]"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import wrk
from bench.procs import Pinning, Server, ServerError, Tracked, free_port
from bench.seed import open_bench_branches, seed_body
from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET

ROOT = Path(__file__).resolve().parent.parent
READ_LUA = ROOT / "bench" / "lua" / "read.lua"
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AIM_TXNS_PER_S = 20_000  # transaction ingest through the API on PostgreSQL (docs/api-profile.md, Bulk paths)


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILE_")}
    env |= {"SUITE_JWT_SECRET": DEV_JWT_SECRET, "PROFILE_DATABASE_URL": db_url, "PROFILE_LOG_LEVEL": "WARNING"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def _migrate(db_url: str) -> None:
    cmd = [sys.executable, "-m", "alembic", "-c", "services/profile/alembic.ini", "upgrade", "head"]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(db_url), capture_output=True, text=True)
    if proc.returncode != 0:
        raise ServerError(f"alembic upgrade head failed:\n{(proc.stdout + proc.stderr)[-2000:]}")


def _fresh_pg(name: str) -> str:
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _batches(customer_id: str, count: int, size: int = 1000):
    start = datetime.now(UTC) - timedelta(days=85)
    run = uuid.uuid4().hex[:8]
    for b in range(count):
        yield [
            {
                "external_id": f"B{run}-{b}-{k}",
                "customer_id": customer_id,
                "kind": ("deposit", "withdrawal", "transfer", "bill_payment")[k % 4],
                "amount": f"{100 + k % 900}.{k % 100:02d}",
                "channel": ("counter", "mobile", "atm", "online")[(k // 4) % 4],
                "occurred_at": (start + timedelta(minutes=b * 1000 + k)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            for k in range(size)
        ]


def register_in_bulk(client: httpx.Client, token: str, calls: int) -> float:
    """Customers/s over `calls` calls of 1,000 to POST /v1/customers:batch (identities never used before)."""
    base = 2_000_000 + (os.getpid() % 100) * 50_000  # seed_body stays valid below 10,000,000
    batches = [
        [{**seed_body(base + c * 1000 + k), "external_id": f"BULK-{base}-{c}-{k}"} for k in range(1000)]
        for c in range(calls)
    ]
    started = time.perf_counter()
    for batch in batches:
        resp = client.post("/v1/customers:batch", json={"items": batch}, headers={"Authorization": f"Bearer {token}"})
        if resp.status_code != 200 or resp.json()["registered_count"] != len(batch):
            raise ServerError(f"customers batch: HTTP {resp.status_code} {resp.text[:300]}")
    return calls * 1000 / (time.perf_counter() - started)


def measure(name: str, db_url: str, args, pinning: Pinning, tracked: Tracked, tmp: Path) -> dict[str, float]:
    print(f"{name}: migrating ...", flush=True)
    _migrate(db_url)
    srv = Server(
        f"profile-{name}",
        "services.profile.app:create_app",
        port=free_port(),
        env=_env(db_url),
        cpu=pinning.server_cpu,
        pinning=pinning,
        tracked=tracked,
        log_dir=tmp,
        python=sys.executable,
    )
    srv.start()
    try:
        open_bench_branches(srv.url)
        staff = mint_token(DEV_JWT_SECRET, sub="bench", role="staff", branch="BJ0001")
        system = mint_token(DEV_JWT_SECRET, sub="bench-core", role="system", scope="transactions:write customers:write")
        with httpx.Client(base_url=srv.url, timeout=120.0) as client:
            resp = client.post(
                "/v1/customers",
                json=seed_body(900_000 + os.getpid() % 1000),
                headers={"Authorization": f"Bearer {staff}"},
            )
            if resp.status_code != 201:
                raise ServerError(f"register: HTTP {resp.status_code} {resp.text[:200]}")
            cid = resp.json()["id"]
            batches = list(_batches(cid, args.batches))
            started = time.perf_counter()
            for batch in batches:
                resp = client.post(
                    "/v1/transactions:batch", json={"items": batch}, headers={"Authorization": f"Bearer {system}"}
                )
                if resp.status_code != 200 or resp.json()["recorded_count"] != len(batch):
                    raise ServerError(f"batch: HTTP {resp.status_code} {resp.text[:300]}")
            took = time.perf_counter() - started
            registrations = register_in_bulk(client, system, args.customer_batches) if args.customer_batches else 0.0
        txns = args.batches * 1000
        rate = txns / took
        print(
            f"  ingest: {txns} transactions in {args.batches} calls, {took:.2f} s: {rate:,.0f} transactions/s "
            f"(aim {AIM_TXNS_PER_S:,}: {rate / AIM_TXNS_PER_S:.2f}x)",
            flush=True,
        )
        if args.customer_batches:
            print(
                f"  bulk registration: {args.customer_batches * 1000} customers in {args.customer_batches} calls: "
                f"{registrations:,.0f} customers/s",
                flush=True,
            )
        ids = tmp / f"summary-{name}.txt"
        ids.write_text(f"{cid}/summary\n")
        shape = wrk.LoadShape(seconds=args.seconds, warmup=1, connections=args.connections, threads=1, timeout=10)
        wrk_bin = wrk.ensure_wrk()
        script_args = [str(ids), staff, "/v1/customers/"]
        wrk.run(wrk_bin, srv.url, shape, pinning, tracked, seconds=1, script=str(READ_LUA), script_args=script_args)
        result = wrk.run(
            wrk_bin,
            srv.url,
            shape,
            pinning,
            tracked,
            seconds=args.seconds,
            script=str(READ_LUA),
            script_args=script_args,
        )
        print(
            f"  summary of a customer with {txns:,} transactions: {result.requests_per_s:,.0f} requests/s, "
            f"p50 {result.latency_ms.get('p50', 0):.1f} ms, p99 {result.latency_ms.get('p99', 0):.1f} ms, "
            f"errors {result.errors}",
            flush=True,
        )
        return {"ingest_txns_per_s": rate, "summary_rps": result.requests_per_s, "registrations_per_s": registrations}
    finally:
        srv.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=10, help="calls of 1,000 transactions (10 = the 10,000 summary case)")
    p.add_argument("--customer-batches", type=int, default=5, help="calls of 1,000 bulk registrations (0: none)")
    p.add_argument("--seconds", type=int, default=5, help="measured seconds of summary reads")
    p.add_argument("--connections", type=int, default=16, help="wrk connections for the summary reads")
    p.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    args = p.parse_args(argv)
    pinning, tracked = Pinning.detect(), Tracked()
    print(f"pinning: {pinning.note}")
    results: dict[str, dict[str, float]] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="profile-bench-") as tmpdir:
        tmp = Path(tmpdir)
        backends = [("sqlite", lambda: f"sqlite:///{tmp / 'profile.db'}")]
        if not args.skip_postgres:
            backends.append(("postgres", lambda: _fresh_pg("bench_profile")))
        try:
            for name, url in backends:
                try:
                    results[name] = measure(name, url(), args, pinning, tracked, tmp)
                except (ServerError, wrk.WrkError, httpx.HTTPError, OSError, Exception) as err:  # noqa: BLE001
                    failed = True
                    print(f"  {name} failed: {type(err).__name__}: {err}", flush=True)
        finally:
            tracked.stop_all()
    if len(results) == 2:
        s, pg = results["sqlite"], results["postgres"]
        print(
            f"PostgreSQL / SQLite: ingest {pg['ingest_txns_per_s'] / s['ingest_txns_per_s']:.2f}, "
            f"summary {pg['summary_rps'] / s['summary_rps']:.2f}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
