"""The scale run's data (bench.scale): each service's own PostgreSQL database, migrated to head, then
loaded with COPY, the documented migration path: N customers in profile with 10 transactions each over
the last 12 months (into their monthly partitions), a points account with one earning entry and its lot
per customer in loyalty, and every customer's features and daily activity in segmentation. Customer i
has the id UUID(int=i+1) in every service, as segmentation's bench data has."""

import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.segmentation_bench import NOW as SEGMENTATION_NOW
from bench.segmentation_bench import classify_silently, synthetic
from bench.segmentation_bench import load as load_features
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


def _copy(db: Database, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    raw = db.engine.raw_connection()
    n = 0
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
                n += 1
        raw.commit()
    finally:
        raw.close()
    return n


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


def _customers(n: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    settings = ProfileSettings(environment="development")
    vault = PersonalDataVault(settings.pii_keys, settings.pii_hmac_key)
    # One ciphertext per field for every row: the read path decrypts it like any other, and a
    # per-row encryption would measure the loader, not the database.
    id_enc, phone_enc = vault.encrypt("11010519491231002X", ID_FIELD), vault.encrypt("13900000000", PHONE_FIELD)
    for i in range(n):
        yield (
            customer_id(i),
            f"9{i:011d}",  # the counter's numbers start with 1: API registrations never meet these
            "individual",
            f"Scale Customer {i}",
            "resident_id",
            id_enc,
            f"{i:064x}",
            phone_enc,
            f"{i:064x}",
            "urban",
            "Beijing",
            "Beijing",
            BENCH_BRANCH,
            "active",
            now,
            now,
            1,
        )


def _transactions(n: int, now: datetime, seed: int = 19) -> Iterator[tuple[Any, ...]]:
    rnd = random.Random(seed)
    for i in range(n):
        cid = customer_id(i)
        for k in range(TXNS_PER_CUSTOMER):
            at = now - timedelta(seconds=rnd.randrange(1, 365 * 86400))
            yield (
                uuid.UUID(int=(i + 1) << 64 | k),
                f"S{i}-{k}",
                cid,
                KINDS[k % 4],
                rnd.randrange(1_000, 5_000_000),
                CHANNELS[(i + k) % 4],
                at,
                True,
                at,
            )


def load_profile(url: str, n: int, now: datetime) -> None:
    db = Database(url)
    try:
        with db.engine.begin() as conn:  # the 12 months loaded, not only the months the migration made
            ensure_month_partitions(
                conn, "transaction_record", "occurred_at", add_months(month_start(now), -12), month_start(now)
            )
        _copy(db, "customer", CUSTOMER_COLS, _customers(n, now))
        _copy(db, "transaction_record", TXN_COLS, _transactions(n, now))
        _copy(db, "transaction_external_id", ("external_id",), ((t[1],) for t in _transactions(n, now)))
    finally:
        db.dispose()


def load_loyalty(url: str, n: int, now: datetime) -> None:
    db = Database(url)
    p, expires = POINTS_PER_CUSTOMER, now + timedelta(days=700)
    with db.engine.begin() as conn:  # the entries' month, whatever day the migration ran
        ensure_month_partitions(conn, "points_ledger_entry", "occurred_at", now, now)
    try:
        _copy(
            db,
            "points_account",
            ("customer_id", "status", "balance", "lifetime_earned", "enrolled_via", "enrolled_at", "updated_at"),
            ((customer_id(i), "active", p, p, "staff", now, now) for i in range(n)),
        )
        _copy(db, "points_ledger_entry_key", ("id",), ((i + 1,) for i in range(n)))
        _copy(
            db,
            "points_ledger_entry",
            (
                "id",
                "customer_id",
                "kind",
                "points",
                "balance_after",
                "source",
                "source_ref",
                "occurred_at",
                "created_at",
            ),
            ((i + 1, customer_id(i), "adjust", p, p, "manual", "migration", now, now) for i in range(n)),
        )
        _copy(
            db,
            "points_lot",
            ("id", "customer_id", "points", "remaining", "expires_at"),
            ((i + 1, customer_id(i), p, p, expires) for i in range(n)),
        )
        with db.engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('points_ledger_entry_key', 'id'), :n)"), {"n": n})
    finally:
        db.dispose()


def load_segmentation(url: str, n: int, now: datetime) -> None:  # noqa: ARG001 - its data has its own day
    """Features and daily activity as segmentation's bench makes them (dated around its NOW), then the
    state that day's recompute leaves (windows and classes current), so the next day's is a normal one."""
    db = Database(url)
    try:
        features, daily = synthetic(n)
        load_features(db, features, daily)
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
