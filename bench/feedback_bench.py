"""Feedback benchmark (`python -m bench.feedback_bench`): survey analysis over N responses (default
1,000,000) loaded into PostgreSQL with COPY, timed per query (median of three warm runs) against the
aim of under 2 s for the full breakdown; then complaint intake requests/s from wrk against one
uvicorn process, on PostgreSQL and SQLite. A report, not a test: it exits 0 when an aim is missed."""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import wrk
from bench.procs import Pinning, Server, Tracked, free_port
from services.common.auth import mint_token
from services.common.branches import apply_branch_event
from services.common.config import DEV_JWT_SECRET
from services.common.db import Database
from services.common.partitions import ensure_month_partitions
from services.feedback.models import branch
from services.feedback.service import analysis

ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "services" / "feedback" / "alembic.ini"
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SURVEY_ID = uuid.UUID("00000000-0000-4000-8000-00000000beef")
BRANCHES = [f"BR{i:04d}" for i in range(200)]
CHANNELS = ["app", "sms", "phone", "branch", "web"]
WAIT = ["<10min", "10-30min", ">30min"]
AIM_SECONDS = 2.0
INTAKE_LUA = r"""
local seq = 0
local headers
function init(args)
  headers = {["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "application/json"}
end
function request()
  seq = seq + 1
  local body = string.format('{"customer_id":"00000000-0000-4000-9000-%012d","channel":"mobile_app",'
    .. '"business_type":"savings","cause":"systems","amount":"100.00","branch_code":"BR0001",'
    .. '"description":"手机银行转账失败但已扣款","staff_complained_about":"staff-x"}', seq % 50000)
  return wrk.format("POST", "/v1/complaints", headers, body)
end
"""


def _pg(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _engine(url: str):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")


def fresh_database(name: str) -> str:
    admin = _engine(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = _pg(PG_URL, name)
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")
    return url


def _head() -> str:
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def _uuid(prefix: int, i: int) -> str:
    return str(uuid.UUID(int=(prefix << 64) | i))


def _copy(conn, table: str, columns: str, lines) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buf = io.StringIO()
        for n, line in enumerate(lines, 1):
            buf.write(line)
            if n % 50_000 == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def load(url: str, n: int) -> float:
    """Customers (read model and segment class), one survey, n responses with an NPS, CSAT and CES
    answer and a single-choice answer each; returns the load seconds."""
    import psycopg

    start = datetime(2026, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    engine = _engine(url)
    with engine.connect() as conn:  # the responses' and answers' months, as the month_partitions job keeps them
        for table in ("survey_response", "survey_answer"):
            ensure_month_partitions(conn, table, "responded_at", start, start + timedelta(days=365))
    engine.dispose()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO survey (id, version, state, title, questions, audience_kind, channel, opens_at,"
            " closes_at, allow_update, created_by, created_at, published_at, revision)"
            " VALUES (%s, 1, 'published', 'bench', %s::json, 'all', 'app', %s, %s, false, 'bench', %s, %s, 2)",
            (
                SURVEY_ID,
                '[{"id": "nps", "type": "nps", "text": "nps"}, {"id": "csat", "type": "csat", "text": "c"},'
                ' {"id": "ces", "type": "ces", "text": "e"}, {"id": "wait", "type": "single_choice", "text": "w",'
                ' "options": ["<10min", "10-30min", ">30min"]}]',
                start,
                start + timedelta(days=365),
                start,
                start,
            ),
        )
        _copy(
            conn,
            "customer_ref",
            "customer_id, customer_type, region_type, branch_code, status, updated_at",
            (
                f"{_uuid(1, i)}\t{'individual' if i % 10 else 'enterprise'}\t{('urban', 'rural', 'peri_urban')[i % 3]}"
                f"\t{BRANCHES[i % 200]}\tactive\t2026-01-01 00:00:00+00\n"
                for i in range(n)
            ),
        )
        _copy(
            conn,
            "customer_segment",
            "customer_id, scheme, segment_class",
            (f"{_uuid(1, i)}\tasset_size\t{('mass', 'silver', 'gold', 'platinum')[i % 7 % 4]}\n" for i in range(n)),
        )

        def at(i: int) -> datetime:
            return start + timedelta(seconds=i * 31 % (365 * 86400))

        # A response's key first (its id and its one-per-survey-and-customer uniqueness), then the
        # response, into its month's partition (made below, before any row), then its answers.
        _copy(
            conn,
            "survey_response_key",
            "id, survey_id, customer_id, responded_at",
            (f"{_uuid(2, i)}\t{SURVEY_ID}\t{_uuid(1, i)}\t{at(i).isoformat()}\n" for i in range(n)),
        )

        def responses():
            for i in range(n):
                yield (
                    f"{_uuid(2, i)}\t{SURVEY_ID}\t1\t{_uuid(1, i)}\t{CHANNELS[i % 5]}\t{BRANCHES[i % 200]}\t"
                    f"{('urban', 'rural', 'peri_urban')[i % 3]}\t{'individual' if i % 10 else 'enterprise'}\t"
                    f"{i * 7 % 11}\t{i % 5 + 1}\t{i % 7 + 1}\tbench\t{at(i).isoformat()}\t{at(i).isoformat()}\n"
                )

        _copy(
            conn,
            "survey_response",
            "id, survey_id, survey_version, customer_id, channel, branch_code, "
            "region_type, customer_type, nps, csat, ces, entered_by, responded_at, updated_at",
            responses(),
        )

        def answers():
            for i in range(n):
                head = f"{_uuid(2, i)}\t{SURVEY_ID}\t{at(i).isoformat()}"
                yield (
                    f"{head}\tnps\t{i * 7 % 11}\t\\N\n{head}\tcsat\t{i % 5 + 1}\t\\N\n"
                    f"{head}\tces\t{i % 7 + 1}\t\\N\n{head}\twait\t\\N\t{WAIT[i * 7 % 11 % 3]}\n"
                )

        _copy(conn, "survey_answer", "response_id, survey_id, responded_at, question_id, value_int, choice", answers())
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - t0


def _timed(fn, reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_analysis(n: int, reload: bool) -> dict[str, float]:
    name = "bench_feedback_analysis"
    url = _pg(PG_URL, name)
    loaded = 0
    if not reload:
        try:
            with _engine(url).connect() as conn:
                loaded = conn.execute(text("SELECT count(*) FROM survey_response")).scalar_one()
                if conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() != _head():
                    loaded = 0  # made under an older schema: the figures must be the current one's
        except Exception:  # noqa: BLE001 - no database yet
            loaded = 0
    if loaded != n:
        url = fresh_database(name)
        print(f"loading {n:,} responses (COPY) ...", flush=True)
        print(f"  loaded in {load(url, n):.1f} s (4 answers per response, customers, segment classes)", flush=True)
    db = Database(url)
    small = 30
    results = {
        "overall scores + distributions + audience": _timed(
            lambda: analysis.analyse_survey(db, survey_id=SURVEY_ID, start=None, end=None, small_sample=small)
        )
    }
    for by in analysis.BREAKDOWNS:
        results[f"breakdown by {by}"] = _timed(
            lambda by=by: analysis.breakdown(
                db, survey_id=SURVEY_ID, by=by, scheme="asset_size", start=None, end=None, small_sample=small
            )
        )
    results["breakdown by=all (six GROUP BYs, one request)"] = _timed(
        lambda: analysis.breakdown(
            db, survey_id=SURVEY_ID, by="all", scheme="asset_size", start=None, end=None, small_sample=small
        )
    )
    results["drivers"] = _timed(lambda: analysis.drivers(db, survey_id=SURVEY_ID, start=None, end=None))
    db.dispose()
    return results


# Feedback's copy of the organisation tree as profile's feed leaves it: the complaints are filed at
# BR0001 by a staff member of that branch (a branch the copy does not hold is out of every reach: 422).
INTAKE_TREE = (("HQ0001", "总行", "head_office", None), ("BR0001", "北京分行", "city", "HQ0001"))


def _seed_tree(url: str) -> None:
    db = Database(url)
    try:
        with db.write() as s:
            for code, name, level, parent in INTAKE_TREE:
                state = {"code": code, "name": name, "level": level, "parent_code": parent, "status": "open"}
                apply_branch_event(s, branch, state | {"version": 1}, datetime.now(UTC))
            s.commit()
    finally:
        db.dispose()


def bench_intake(seconds: int) -> dict[str, wrk.WrkResult]:
    wrk_bin = wrk.ensure_wrk()
    pinning, tracked = Pinning.detect(), Tracked()
    token = mint_token(DEV_JWT_SECRET, sub="bench-staff", role="staff", branch="BR0001", ttl_seconds=3600)
    shape = wrk.LoadShape(seconds=seconds, warmup=2, connections=16, threads=2, timeout=10)
    out: dict[str, wrk.WrkResult] = {}
    with tempfile.TemporaryDirectory(prefix="feedback-bench-") as tmp:
        lua = Path(tmp) / "intake.lua"
        lua.write_text(INTAKE_LUA)
        for backend in ("postgresql", "sqlite"):
            if backend == "postgresql":
                url = fresh_database("bench_feedback_intake")
            else:
                url = f"sqlite:///{tmp}/feedback.db"
                cfg = Config(str(ALEMBIC_INI))
                cfg.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
                cfg.set_main_option("sqlalchemy.url", url)
                command.upgrade(cfg, "head")
            _seed_tree(url)
            env = {
                **os.environ,
                "FEEDBACK_DATABASE_URL": url,
                "FEEDBACK_ENVIRONMENT": "development",
                "FEEDBACK_PROFILE_FEED_URL": "",
                "FEEDBACK_SEGMENTATION_FEED_URL": "",
                "FEEDBACK_LOG_LEVEL": "WARNING",
                "FEEDBACK_JWT_SECRET": DEV_JWT_SECRET,
            }
            server = Server(
                f"feedback-{backend}",
                "services.feedback.app:create_app",
                port=free_port(),
                env=env,
                cpu=pinning.server_cpu if pinning.enabled else None,
                pinning=pinning,
                tracked=tracked,
                log_dir=Path(tmp),
                python=sys.executable,
            )
            try:
                server.start()
                wrk.run(
                    wrk_bin,
                    server.url,
                    shape,
                    pinning,
                    tracked,
                    seconds=shape.warmup,
                    script=str(lua),
                    script_args=[token],
                )
                out[backend] = wrk.run(
                    wrk_bin, server.url, shape, pinning, tracked, seconds=seconds, script=str(lua), script_args=[token]
                )
            finally:
                server.stop()
                tracked.stop_all()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.feedback_bench", description=__doc__)
    p.add_argument("--responses", type=int, default=int(os.environ.get("BENCH_RESPONSES", 1_000_000)))
    p.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 5)))
    p.add_argument("--reload", action="store_true", help="reload the responses even when already loaded")
    p.add_argument("--skip-intake", action="store_true")
    args = p.parse_args(argv)
    print(f"survey analysis over {args.responses:,} responses on PostgreSQL (median of 3 warm runs)")
    results = bench_analysis(args.responses, args.reload)
    for what, secs in results.items():
        print(f"  {what:<45} {secs * 1000:8.0f} ms")
    full = results["breakdown by=all (six GROUP BYs, one request)"]
    separate = sum(v for k, v in results.items() if k.startswith("breakdown by ") and "=" not in k)
    print(f"  {'six breakdowns, one query each':<45} {separate * 1000:8.0f} ms")
    print(
        f"  {'full breakdown (by=all)':<45} {full * 1000:8.0f} ms   aim < {AIM_SECONDS:.0f} s: "
        f"{'met' if full < AIM_SECONDS else 'MISSED'} (ratio {full / AIM_SECONDS:.2f})"
    )
    if not args.skip_intake:
        print(f"complaint intake (POST /v1/complaints, 16 connections, {args.seconds} s, 1 uvicorn worker)")
        for backend, r in bench_intake(args.seconds).items():
            print(
                f"  {backend:<12} {r.requests_per_s:8.0f} requests/s   p50 {r.latency_ms.get('p50', 0):.1f} ms  "
                f"p99 {r.latency_ms.get('p99', 0):.1f} ms   errors {r.errors}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
