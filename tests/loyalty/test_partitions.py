"""The points ledger partitioned by month on PostgreSQL: the migration converts stored entries (each in
its month, lots still referring to them, ids and dedupe keys kept in points_ledger_entry_key) and back;
the dedupe key stays unique across partitions; a customer's statement bounded to a month scans only that
month's partition (its EXPLAIN plan); the month_partitions job creates the ledger's months ahead.
SQLite keeps one table and the job does nothing there."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import exc, text

from services.common.db import Database
from services.common.partitions import add_months, ensure_partitions_ahead, month_start, partition_name
from services.loyalty.app import build_policy
from services.loyalty.config import LoyaltySettings
from services.loyalty.models import metadata
from services.loyalty.service.accounts import Window, ensure_account, statement, statement_query
from services.loyalty.service.ledger import Posting, commit, credit, dedupe_exists
from tests import dbkit
from tests.loyalty.conftest import ALEMBIC_INI

BEFORE = "0861e9ee03a8"  # the revision before the ledger was partitioned
T = "points_ledger_entry"
NOW = datetime.now(UTC)
THIS_MONTH = month_start(NOW)


pg_url, pg = dbkit.partition_fixtures("loyalty", ALEMBIC_INI)


def _month(offset: int) -> str:
    return partition_name(T, add_months(THIS_MONTH, offset))


def _credit(db: Database, cid: uuid.UUID, at: datetime, dedupe_key: str | None = None) -> int:
    policy = build_policy(LoyaltySettings(database_url=str(db.engine.url)), lambda: NOW)
    with db.write() as s:
        account = ensure_account(s, cid, via="staff", policy=policy)
        entry = credit(
            s,
            account,
            kind="adjust",
            points=10,
            posting=Posting(source="manual", dedupe_key=dedupe_key),
            policy=policy,
            at=at,
        )
        commit(s, policy)
        return entry.id


@pytest.mark.postgres
def test_migration_partitions_stored_entries_and_downgrade_restores_them(pg_url):
    cfg = dbkit.alembic_config(ALEMBIC_INI, pg_url)
    command.upgrade(cfg, BEFORE)
    db = Database(pg_url)
    cid = uuid.uuid4()
    months = [add_months(THIS_MONTH, -k).replace(day=3) for k in (0, 2, 14)]
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO points_account (customer_id, status, balance, lifetime_earned, enrolled_via, enrolled_at,"
                " updated_at) VALUES (:c, 'active', 30, 30, 'staff', now(), now())"
            ),
            {"c": cid},
        )
        for k, at in enumerate(months):
            entry = conn.execute(
                text(
                    "INSERT INTO points_ledger_entry (customer_id, kind, points, balance_after, source, dedupe_key,"
                    " occurred_at, created_at) VALUES (:c, 'adjust', 10, :b, 'manual', :d, :at, now()) RETURNING id"
                ),
                {"c": cid, "b": 10 * (k + 1), "d": f"old:{k}", "at": at},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO points_lot (id, customer_id, points, remaining, expires_at)"
                    " VALUES (:i, :c, 10, 10, :e)"
                ),
                {"i": entry, "c": cid, "e": add_months(THIS_MONTH, 24)},
            )
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        parts = dbkit.partition_rows(conn, T)
        keys = conn.execute(text("SELECT count(*), max(id) FROM points_ledger_entry_key")).one()
    assert len(parts) == 14 + 3 + 1 + 1 and parts[f"{T}_default"] == 0
    assert {n: c for n, c in parts.items() if c} == {_month(0): 1, _month(-2): 1, _month(-14): 1}
    assert tuple(keys) == (3, 3)
    with db.write() as s:
        assert dedupe_exists(s, "old:1")
    assert _credit(db, cid, NOW) == 4  # numbered after the stored entries, by the key table
    command.downgrade(cfg, BEFORE)
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM points_ledger_entry")).scalar_one() == 4
        assert dbkit.partition_rows(conn, T) == {}
        again = conn.execute(
            text(
                "INSERT INTO points_ledger_entry (customer_id, kind, points, balance_after, source, occurred_at,"
                " created_at) VALUES (:c, 'adjust', 10, 50, 'manual', now(), now()) RETURNING id"
            ),
            {"c": cid},
        ).scalar_one()
    assert again == 5  # the id sequence is back, past every stored entry
    db.dispose()


@pytest.mark.postgres
def test_dedupe_key_stays_unique_across_partitions(pg):
    cid = uuid.uuid4()
    _credit(pg, cid, NOW, dedupe_key="txn:once")
    with pytest.raises(exc.IntegrityError):
        _credit(pg, cid, add_months(THIS_MONTH, -1), dedupe_key="txn:once")  # another month, another partition


@pytest.mark.postgres
def test_month_bounded_statement_scans_only_that_months_partition(pg):
    cid = uuid.uuid4()
    for k in range(3):
        _credit(pg, cid, add_months(THIS_MONTH, -k).replace(day=5))
    assert ensure_partitions_ahead(pg, metadata, NOW) == [_month(-2), _month(-1)]  # history out of the default
    last_month = Window(add_months(THIS_MONTH, -1), THIS_MONTH)
    rows, _ = statement(pg, customer_id=cid, limit=50, cursor=None, window=last_month)
    assert [r.occurred_at.month for r in rows] == [add_months(THIS_MONTH, -1).month]
    with pg.engine.connect() as conn:
        scanned, plan = dbkit.scanned_relations(conn, statement_query(cid, last_month, None, 50))
        wide, _ = dbkit.scanned_relations(conn, statement_query(cid, Window(), None, 50))
    assert scanned == {_month(-1)}, json.dumps(plan, indent=1)
    assert {_month(0), _month(-1), _month(-2), f"{T}_default"} <= wide


@pytest.mark.postgres
def test_job_creates_the_ledgers_months_ahead(pg):
    assert ensure_partitions_ahead(pg, metadata, NOW) == []  # the migration made them
    assert ensure_partitions_ahead(pg, metadata, add_months(THIS_MONTH, 2)) == [_month(4), _month(5)]


def test_job_does_nothing_on_sqlite(tmp_path):
    url = dbkit.sqlite_url(tmp_path / "loyalty.db")
    dbkit.migrate(ALEMBIC_INI, url)
    db = Database(url)
    assert ensure_partitions_ahead(db, metadata, NOW) == []
    db.dispose()
