"""Segmentation recompute against its floor, on SQLite and PostgreSQL, in one run:

  floor      one plain UPDATE over every row of customer_feature (what touching each row once costs)
  recompute  the daily recompute job (`POST /v1/recomputes`) a day later: every customer's four classes,
             with history and segment.changed for those whose class changed, and the windows of the
             customers with a day that left a window since yesterday's job, from the daily aggregate
             (set-based); the time of each step (windows, prune, classes, commit, each rule segment)
             is printed beside it
  repair     the same job re-deriving every customer's windows (`{"windows": "all"}`), once a day
             later and once more the same day: that second pass must change nothing, which checks
             that the daily job's windows equal everyone's re-derived ones
  events     transaction.recorded events applied through FeedConsumer.apply (features, classes and
             rule segments of the customer, in the event's transaction), per second

`python -m bench.segmentation_bench [--customers 1000000] [--backends sqlite,postgres] [--events 2000]
[--rounds 3]`. On a shared machine one pair of timings is noisy: each round (a day later than the last)
times the floor and then the recompute, and the ratio reported is the median over the rounds.
Customers are loaded with COPY on PostgreSQL and executemany on SQLite, then brought to the state
yesterday's recompute leaves (windows and classes current, daily rows older than 365 days pruned, that
job recorded as succeeded; not timed), so the timed job prunes one day, as a daily job does.
A report, not a test: the aim is recompute <= 3x floor."""

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, func, insert, select, text, update

from services.common.consumer import FeedConsumer
from services.common.db import Database
from services.common.outbox import Event
from services.segmentation.config import SegmentationSettings
from services.segmentation.consumers import FeatureHandlers
from services.segmentation.models import consumer_cursor, customer_feature, recompute_job
from services.segmentation.service import context, recomputes
from services.segmentation.service.activity import prune_activity
from services.segmentation.service.classify import class_expressions, clock_params, refresh_windows
from tests import dbkit

ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "services" / "segmentation" / "alembic.ini"
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FEATURE_COLS = (
    "customer_id",
    "customer_no",
    "type",
    "region_type",
    "province",
    "city",
    "branch_code",
    "status",
    "registered_at",
    "aum_fen",
    "last_txn_at",
    "is_marketing_contactable",
    "contactable_channels",
    "updated_at",
)
DAILY_COLS = ("customer_id", "day", "txn_count", "amount_fen", "digital_count")


def say(text_: str = "") -> None:
    print(text_, flush=True)


def synthetic(n: int, seed: int = 7):
    """(feature rows, daily rows) as Python values; ids are deterministic UUIDs."""
    rnd = random.Random(seed)
    features, daily = [], []
    types = ["individual"] * 90 + ["enterprise"] * 8 + ["interbank"] * 2
    for i in range(n):
        cid = str(uuid.UUID(int=i + 1))
        days = sorted({rnd.randint(0, 400) for _ in range(rnd.randint(0, 3))})
        for d in days:
            k = rnd.randint(1, 4)
            daily.append((cid, (NOW - timedelta(days=d)).date(), k, k * rnd.randint(100, 500_000), rnd.randint(0, k)))
        last = NOW - timedelta(days=days[0], hours=1) if days else None
        aum = int(10 ** rnd.uniform(0, 11))
        features.append(
            (
                cid,
                f"{i:012d}",
                rnd.choice(types),
                rnd.choice(("urban", "rural", "peri_urban")),
                "P",
                "C",
                f"BR{i % 5000:04d}",
                "active",
                NOW - timedelta(days=rnd.randint(0, 3000)),
                aum,
                last,
                rnd.random() < 0.6,
                "sms",
                NOW,
            )
        )
    return features, daily


def _sqlite_value(v):
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, bool):
        return int(v)
    return v


def load(db: Database, features, daily) -> float:
    t0 = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.dialect == "postgresql":
            for table, cols, rows in (
                ("customer_feature", FEATURE_COLS, features),
                ("customer_daily_activity", DAILY_COLS, daily),
            ):
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            cur.execute("BEGIN")
            for table, cols, rows in (
                ("customer_feature", FEATURE_COLS, features),
                ("customer_daily_activity", DAILY_COLS, daily),
            ):
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"  # noqa: S608
                cur.executemany(sql, ([_sqlite_value(v) for v in row] for row in rows))
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - t0


def analyse(db: Database) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))


def classify_silently(db: Database, settings: SegmentationSettings, now: datetime) -> None:
    """The starting state of a long-running system after yesterday's recompute: windows and classes
    current, daily rows older than the longest window pruned, no history, yesterday's job succeeded."""
    with db.write() as s:
        refresh_windows(s, now=now)
        prune_activity(s, now=now)
        exprs = class_expressions(settings)
        s.execute(
            update(customer_feature).values({f"class_{k}": e for k, e in exprs.items()}), clock_params(settings, now)
        )
        s.execute(
            insert(recompute_job).values(
                id=str(uuid.uuid4()),
                status="succeeded",
                phase="done",
                steps_done=2,
                steps_total=2,
                changed=0,
                requested_by="bench",
                created_at=now,
                started_at=now,
                finished_at=now,
                heartbeat_at=now,
                windows="all",
            )
        )
        s.commit()


def windows_checksum(db: Database) -> tuple:
    """Sums of every window column over all customers: equal before and after a pass that changes none."""
    f = customer_feature.c
    cols = [
        f.txn_count_30,
        f.txn_count_90,
        f.txn_count_365,
        f.txn_amount_fen_30,
        f.txn_amount_fen_90,
        f.txn_amount_fen_365,
        f.digital_share_pct,
    ]
    with db.read() as s:
        return tuple(s.execute(select(*(func.coalesce(func.sum(c), 0) for c in cols), func.count())).one())


def floor(db: Database) -> float:
    t0 = time.perf_counter()
    with db.write() as s:
        s.execute(
            text("UPDATE customer_feature SET updated_at = :t"),
            {"t": NOW if db.dialect == "postgresql" else _sqlite_value(NOW)},
        )
        s.commit()
    return time.perf_counter() - t0


class RecomputeFailed(RuntimeError):
    pass


def recompute(db: Database, settings: SegmentationSettings, now: datetime, windows: str = "moved"):
    """(seconds, the finished job, seconds per step); raises RecomputeFailed unless the job succeeded
    with the windows asked for."""
    steps: dict[str, float] = {}

    def on_step(step: str, seconds: float) -> None:
        steps[step] = steps.get(step, 0.0) + seconds

    ctx = context.Context(db=db, settings=settings, clock=lambda: now, on_step=on_step)
    t0 = time.perf_counter()
    job, _ = recomputes.start_recompute(ctx, actor="bench", windows=windows)
    recomputes.run_recompute(ctx, job_id=job.id)
    elapsed = time.perf_counter() - t0
    job = recomputes.require_job(db, job_id=job.id)
    if job.status != "succeeded" or job.windows != windows:
        raise RecomputeFailed(f"recompute {job.id}: {job.status} {job.error or ''} (windows {job.windows})")
    return elapsed, job, steps


def events_per_second(
    db: Database, settings: SegmentationSettings, n_customers: int, n_events: int, now: datetime
) -> float:
    consumer = FeedConsumer(
        name="bench",
        db=db,
        cursor_table=consumer_cursor,
        handlers=FeatureHandlers(settings, lambda: now).handlers("profile"),
        client=None,
        feed_url="",
        token=lambda: "",
    )
    rnd = random.Random(11)
    events = [
        Event(
            position=i + 1,
            event_id=str(uuid.uuid4()),
            type="transaction.recorded",
            occurred_at=now,
            subject_id=str(uuid.UUID(int=rnd.randint(1, n_customers))),
            data={
                "transaction_id": str(uuid.uuid4()),
                "external_id": str(i),
                "kind": "deposit",
                "amount": "100.00",
                "amount_fen": 10000,
                "channel": "mobile",
                "occurred_at": now.isoformat(),
                "customer_initiated": True,
                "reverses_external_id": None,
            },
        )
        for i in range(n_events)
    ]
    t0 = time.perf_counter()
    for start in range(0, n_events, 100):
        consumer.apply(events[start : start + 100])
    return n_events / (time.perf_counter() - t0)


def database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return dbkit.sqlite_url(workdir / "segmentation-bench.db")
    return dbkit.fresh_pg_database("bench_segmentation")


def run_backend(backend: str, args, features, daily, workdir: Path) -> dict:
    url = database(backend, workdir)
    command.upgrade(dbkit.alembic_config(ALEMBIC_INI, url), "head")
    db = Database(url)
    settings = SegmentationSettings(
        environment="test", database_url=url, profile_feed_url="", loyalty_feed_url="", feedback_feed_url=""
    )
    out = {"load_s": load(db, features, daily), "rounds": []}
    classify_silently(db, settings, NOW)
    analyse(db)
    for day in range(1, args.rounds + 1):  # floor and recompute side by side, a day apart each round
        floor_s = floor(db)
        analyse(db)
        recompute_s, job, steps = recompute(db, settings, NOW + timedelta(days=day))
        out["rounds"].append({"floor_s": floor_s, "recompute_s": recompute_s, "changed": job.changed, "steps": steps})
    last_day = NOW + timedelta(days=args.rounds)
    before = windows_checksum(db)
    out["again_s"], again, out["steps_again"] = recompute(db, settings, last_day, windows="all")
    out["again_changed"] = again.changed
    out["again_same"] = windows_checksum(db) == before
    floor_s = floor(db)
    analyse(db)
    repair_s, job, steps = recompute(db, settings, last_day + timedelta(days=1), windows="all")
    out["repair"] = {"floor_s": floor_s, "recompute_s": repair_s, "changed": job.changed, "steps": steps}
    out["events_per_s"] = events_per_second(db, settings, len(features), args.events, last_day + timedelta(days=1))
    db.dispose()
    if backend == "postgres":
        admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "bench_segmentation" WITH (FORCE)'))
        admin.dispose()
    return out


def _steps(steps: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f} s" for k, v in steps.items())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.segmentation_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--customers", type=int, default=int(os.environ.get("BENCH_SEG_CUSTOMERS", 1_000_000)))
    p.add_argument("--events", type=int, default=int(os.environ.get("BENCH_SEG_EVENTS", 2000)))
    p.add_argument("--backends", default=os.environ.get("BENCH_SEG_BACKENDS", "sqlite,postgres"))
    p.add_argument(
        "--rounds",
        type=int,
        default=int(os.environ.get("BENCH_SEG_ROUNDS", 3)),
        help="days measured, each a floor UPDATE then a recompute; the ratio is their median",
    )
    args = p.parse_args(argv)
    say(f"segmentation bench: {args.customers:,} customers, {args.events:,} events")
    t0 = time.perf_counter()
    features, daily = synthetic(args.customers)
    say(f"  generated {len(features):,} customers and {len(daily):,} daily rows in {time.perf_counter() - t0:.1f} s")
    failed = False
    with tempfile.TemporaryDirectory(prefix="seg-bench-") as tmp:
        for backend in args.backends.split(","):
            if backend == "postgres" and dbkit.postgres_reachable() is not None:
                say(f"  {backend}: skipped ({dbkit.postgres_reachable()})")
                continue
            r = run_backend(backend, args, features, daily, Path(tmp))
            for i, rd in enumerate(r["rounds"], 1):
                say(
                    f"    day {i}: floor UPDATE {rd['floor_s']:.2f} s | recompute {rd['recompute_s']:.2f} s "
                    f"({rd['changed']:,} class changes) = {rd['recompute_s'] / rd['floor_s']:.2f}x | "
                    f"{_steps(rd['steps'])}"
                )
            ratio = statistics.median(rd["recompute_s"] / rd["floor_s"] for rd in r["rounds"])
            rp = r["repair"]
            same = r["again_same"] and r["again_changed"] == 0
            say(
                f"    repair (windows: all), the same day: {r['again_s']:.2f} s ({_steps(r['steps_again'])}), "
                f"{'changed nothing (the daily jobs were exact)' if same else 'CHANGED WINDOWS OR CLASSES'}"
            )
            say(
                f"    repair (windows: all), a day later: floor UPDATE {rp['floor_s']:.2f} s | recompute "
                f"{rp['recompute_s']:.2f} s ({rp['changed']:,} class changes) = "
                f"{rp['recompute_s'] / rp['floor_s']:.2f}x | {_steps(rp['steps'])}"
            )
            say(
                f"  {backend}: load {r['load_s']:.1f} s | daily recompute = {ratio:.2f}x floor (median of "
                f"{args.rounds}) [aim <= 3x: {'met' if ratio <= 3 else 'MISSED'}] | repair "
                f"{rp['recompute_s'] / rp['floor_s']:.2f}x | events {r['events_per_s']:,.0f}/s"
            )
            if not same:
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
