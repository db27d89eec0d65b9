"""The scale run's data (bench.scale): each service's own PostgreSQL database, migrated to head, then
loaded by PostgreSQL itself (INSERT ... SELECT over generate_series, two connections at once; a bank's
own export would come in with COPY, the documented migration path): N customers in profile with 10
transactions each over the last 12 months (into their monthly partitions), a points account with one
earning entry and its lot per customer in loyalty, and every customer's features and daily activity in
segmentation. Customer i has the id UUID(int=i+1) in every service, as segmentation's bench data has."""

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.segmentation_bench import NOW as SEGMENTATION_NOW
from bench.segmentation_bench import classify_silently
from services.common.db import Database
from services.common.partitions import add_months, ensure_month_partitions, month_start
from services.common.pii import PersonalDataVault
from services.profile.config import ProfileSettings
from services.profile.service.customers import ID_FIELD, PHONE_FIELD
from services.segmentation.config import SegmentationSettings
from tests.dbkit import alembic_config

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICES = ("profile", "segmentation", "feedback", "loyalty")
TXNS_PER_CUSTOMER = 10
POINTS_PER_CUSTOMER = 500
BENCH_BRANCH = "BJ0001"  # bench.seed's outlet, opened through the API before anything reads
KINDS = ("deposit", "withdrawal", "transfer", "bill_payment")
CHANNELS = ("counter", "mobile", "atm", "online")


def customer_id(i: int) -> uuid.UUID:
    return uuid.UUID(int=i + 1)


def database_url(prefix: str, service: str) -> str:
    return make_url(PG_URL).set(database=f"{prefix}_{service}").render_as_string(hide_password=False)


def _admin():  # type: ignore[no-untyped-def]
    return create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")


def fresh_databases(prefix: str) -> dict[str, str]:
    """{service: URL}: the prefix's four databases dropped, created and migrated to head."""
    admin = _admin()
    with admin.connect() as conn:
        for service in SERVICES:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{prefix}_{service}"'))
    admin.dispose()
    urls = {service: database_url(prefix, service) for service in SERVICES}
    for service, url in urls.items():
        command.upgrade(alembic_config(ROOT / "services" / service / "alembic.ini", url), "head")
    return urls


def drop_databases(prefix: str) -> None:
    admin = _admin()
    with admin.connect() as conn:
        for service in SERVICES:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)'))
    admin.dispose()


def database_sizes_mb(urls: dict[str, str]) -> dict[str, float]:
    admin = _admin()
    with admin.connect() as conn:
        sizes = {
            service: round(
                conn.execute(text("SELECT pg_database_size(:d)"), {"d": make_url(url).database}).scalar() / 2**20, 1
            )
            for service, url in urls.items()
        }
    admin.dispose()
    return sizes


CUSTOMER_COLS = (
    "id",
    "customer_no",
    "type",
    "name",
    "id_type",
    "id_number_enc",
    "id_number_hash",
    "phone_enc",
    "phone_hash",
    "region_type",
    "province",
    "city",
    "branch_code",
    "status",
    "created_at",
    "updated_at",
    "version",
)
TXN_COLS = (
    "id",
    "external_id",
    "customer_id",
    "kind",
    "amount_fen",
    "channel",
    "occurred_at",
    "customer_initiated",
    "recorded_at",
)


# PostgreSQL makes the rows itself (INSERT ... SELECT over generate_series), two connections at once on
# halves of the customers: a row per microsecond from Python would make the loader, not the database,
# the figure at 100,000,000 transactions. Customer i's values are functions of i (and k for its k-th
# transaction), so every run loads the same data.
UUID_OF = "lpad(to_hex(i + 1), 32, '0')::uuid"  # customer_id(i)
SERIES = "generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1) AS i"  # the chunk's customers
TXN_SERIES = f"{SERIES}, generate_series(0, {TXNS_PER_CUSTOMER - 1}) AS k"  # and each one's transactions
CUSTOMERS_SQL = f"""
INSERT INTO customer ({", ".join(CUSTOMER_COLS)})
SELECT {UUID_OF}, '9' || lpad(i::text, 11, '0'), 'individual', 'Scale Customer ' || i, 'resident_id',
       :id_enc, lpad(to_hex(i), 64, '0'), :phone_enc, lpad(to_hex(i), 64, '0'), 'urban', 'Beijing', 'Beijing',
       :branch, 'active', :now, :now, 1
FROM {SERIES}"""
TXNS_SQL = f"""
INSERT INTO transaction_record ({", ".join(TXN_COLS)})
SELECT (lpad(to_hex(i + 1), 16, '0') || lpad(to_hex(k), 16, '0'))::uuid, 'S' || i || '-' || k, {UUID_OF},
       (ARRAY['deposit', 'withdrawal', 'transfer', 'bill_payment'])[k % 4 + 1],
       1000 + (i * 7919 + k * 104729) % 4999000,
       (ARRAY['counter', 'mobile', 'atm', 'online'])[(i + k) % 4 + 1],
       t.at, true, t.at
FROM {TXN_SERIES},
     LATERAL (SELECT :now - ((1 + (i * 2654435761 + k * 40503) % 31535999) * interval '1 second') AS at) AS t"""
EXTERNAL_IDS_SQL = f"""
INSERT INTO transaction_external_id (external_id)
SELECT 'S' || i || '-' || k FROM {TXN_SERIES}"""
CHUNK = 250_000  # customers per statement: a statement's rows stay in memory until it ends


def _in_parallel(url: str, sql: str, n: int, params: dict[str, Any], workers: int = 2) -> None:
    """`sql` over customers [0, n) in chunks, `workers` connections at a time, each chunk committed."""
    chunks = [(lo, min(lo + CHUNK, n)) for lo in range(0, n, CHUNK)]

    def run(part: list[tuple[int, int]]) -> None:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            for lo, hi in part:
                with engine.begin() as conn:
                    conn.execute(text(sql), params | {"lo": lo, "hi": hi})
        finally:
            engine.dispose()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, [chunks[w::workers] for w in range(workers)]))


def load_profile(url: str, n: int, now: datetime) -> None:
    db = Database(url)
    try:
        with db.engine.begin() as conn:  # the 12 months loaded, not only the months the migration made
            ensure_month_partitions(
                conn, "transaction_record", "occurred_at", add_months(month_start(now), -12), month_start(now)
            )
    finally:
        db.dispose()
    settings = ProfileSettings(environment="development")
    vault = PersonalDataVault(settings.pii_keys, settings.pii_hmac_key)
    # One ciphertext per field for every row: the read path decrypts it like any other.
    secrets = {
        "id_enc": vault.encrypt("11010519491231002X", ID_FIELD),
        "phone_enc": vault.encrypt("13900000000", PHONE_FIELD),
    }
    _in_parallel(url, CUSTOMERS_SQL, n, secrets | {"branch": BENCH_BRANCH, "now": now})
    _in_parallel(url, TXNS_SQL, n, {"now": now})
    _in_parallel(url, EXTERNAL_IDS_SQL, n, {})


LOYALTY_SQL = (
    f"""INSERT INTO points_account
        (customer_id, status, balance, lifetime_earned, enrolled_via, enrolled_at, updated_at)
    SELECT {UUID_OF}, 'active', :p, :p, 'staff', :now, :now FROM {SERIES}""",
    f"""INSERT INTO points_ledger_entry_key (id) SELECT i + 1 FROM {SERIES}""",
    f"""INSERT INTO points_ledger_entry
        (id, customer_id, kind, points, balance_after, source, source_ref, occurred_at, created_at)
    SELECT i + 1, {UUID_OF}, 'adjust', :p, :p, 'manual', 'migration', :now, :now
    FROM {SERIES}""",
    f"""INSERT INTO points_lot (id, customer_id, points, remaining, expires_at)
    SELECT i + 1, {UUID_OF}, :p, :p, :expires FROM {SERIES}""",
)


def load_loyalty(url: str, n: int, now: datetime) -> None:
    """A points account per customer with one entry of POINTS_PER_CUSTOMER and its lot."""
    db = Database(url)
    try:
        with db.engine.begin() as conn:  # the entries' month, whatever day the migration ran
            ensure_month_partitions(conn, "points_ledger_entry", "occurred_at", now, now)
        params = {"p": POINTS_PER_CUSTOMER, "now": now, "expires": now + timedelta(days=700)}
        for sql in LOYALTY_SQL:
            _in_parallel(url, sql, n, params)
        with db.engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('points_ledger_entry_key', 'id'), :n)"), {"n": n})
            conn.execute(text("SELECT setval(pg_get_serial_sequence('points_lot', 'id'), :n)"), {"n": n})
    finally:
        db.dispose()


# Segmentation's bench data (bench.segmentation_bench.synthetic) made by PostgreSQL: the same shapes and
# spreads (types 90/8/2 %, AUM 10^U(0, 11) fen, 0-3 days of activity in the last 400, 60 % contactable),
# drawn from hashes of i so that no 10,000,000-row list is ever held in Python.
def _u(salt: int) -> str:
    """A number in [0, 1) drawn from customer i and `salt`."""
    return f"((hashint8extended(i, {salt}) & 2147483647) / 2147483648.0)"


DAYS_SQL = "(hashint8extended(i * 4 + j, 9) & 2147483647) % 401"  # customer i's j-th active day back
ACTIVE_DAYS_SQL = "(hashint8extended(i, 8) & 2147483647) % 4"  # how many of j = 0..3 it has
FEATURES_SQL = f"""
INSERT INTO customer_feature (customer_id, customer_no, type, region_type, province, city, branch_code, status,
                              registered_at, aum_fen, last_txn_at, is_marketing_contactable, contactable_channels,
                              updated_at)
SELECT {UUID_OF}::text, lpad(i::text, 12, '0'),
       CASE WHEN {_u(1)} < 0.9 THEN 'individual' WHEN {_u(1)} < 0.98 THEN 'enterprise' ELSE 'interbank' END,
       (ARRAY['urban', 'rural', 'peri_urban'])[1 + floor({_u(2)} * 3)::int], 'P', 'C',
       'BR' || lpad((i % 5000)::text, 4, '0'),
       'active', :now - floor({_u(3)} * 3001) * interval '1 day', floor(power(10, {_u(4)} * 11))::bigint,
       :now - interval '1 hour'
         - (SELECT min({DAYS_SQL}) FROM generate_series(0, {ACTIVE_DAYS_SQL} - 1) AS j) * interval '1 day',
       {_u(5)} < 0.6, 'sms', :now
FROM {SERIES}"""
DAILY_SQL = f"""
INSERT INTO customer_daily_activity (customer_id, day, txn_count, amount_fen, digital_count)
SELECT {UUID_OF}::text, (:now - {DAYS_SQL} * interval '1 day')::date, c.k,
       c.k * (100 + (hashint8extended(i * 4 + j, 10) & 2147483647) % 499901),
       (hashint8extended(i * 4 + j, 11) & 2147483647) % (c.k + 1)
FROM {SERIES}
CROSS JOIN LATERAL generate_series(0, {ACTIVE_DAYS_SQL} - 1) AS j
CROSS JOIN LATERAL (SELECT 1 + (hashint8extended(i * 4 + j, 12) & 2147483647) % 4 AS k) AS c
ON CONFLICT DO NOTHING"""


def load_segmentation(url: str, n: int, now: datetime) -> None:  # noqa: ARG001 - its data has its own day
    """Features and daily activity as segmentation's bench makes them (dated around its NOW), then the
    state that day's recompute leaves (windows and classes current), so the next day's is a normal one."""
    for sql in (FEATURES_SQL, DAILY_SQL):
        _in_parallel(url, sql, n, {"now": SEGMENTATION_NOW})
    db = Database(url)
    try:
        settings = SegmentationSettings(
            environment="test", database_url=url, profile_feed_url="", loyalty_feed_url="", feedback_feed_url=""
        )
        classify_silently(db, settings, SEGMENTATION_NOW)
    finally:
        db.dispose()


def analyse(urls: dict[str, str]) -> None:
    for url in urls.values():
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()


@dataclass
class Loaded:
    urls: dict[str, str]
    customers: int
    seconds: dict[str, float]


def load_all(prefix: str, n: int, now: datetime) -> Loaded:
    """Fresh databases for `prefix`, loaded with n customers; the seconds of each step."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    urls = fresh_databases(prefix)
    seconds["migrate"] = time.perf_counter() - t0
    for name, loader in (("profile", load_profile), ("loyalty", load_loyalty), ("segmentation", load_segmentation)):
        t = time.perf_counter()
        loader(urls[name], n, now)
        seconds[name] = time.perf_counter() - t
    t = time.perf_counter()
    analyse(urls)
    seconds["analyse"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    return Loaded(urls, n, {k: round(v, 2) for k, v in seconds.items()})
