"""Transactions partitioned by month on PostgreSQL: the migration converts a stored table (rows kept,
each in its month) and back; the month_partitions job creates months ahead, and the months of rows
that wait in the default partition, moving them out; the external id stays unique across
partitions; a month-bounded list scans only that month's partition (its EXPLAIN plan). SQLite
keeps one table and the job does nothing there."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from services.common.db import Database
from services.common.partitions import add_months, ensure_partitions_ahead, month_start, partition_name
from services.profile.models import metadata
from services.profile.service.transactions import TransactionFilter, ingest_transactions, transactions_query
from tests import dbkit
from tests.profile import factories as f
from tests.profile.conftest import ALEMBIC_INI

BEFORE = "cab55db88eae"  # the revision before transactions were partitioned
NOW = datetime.now(UTC)
THIS_MONTH = month_start(NOW)


pg_url, pg = dbkit.partition_fixtures("profile", ALEMBIC_INI)


def _customer(conn, cid: uuid.UUID, n: int = 1) -> None:
    conn.execute(
        text(
            "INSERT INTO customer (id, customer_no, type, name, id_type, id_number_enc, id_number_hash, phone_enc,"
            " phone_hash, region_type, province, city, branch_code, status, created_at, updated_at, version)"
            " VALUES (:id, :no, 'individual', 'n', 'resident_id', 'e', :h, 'p', 'ph', 'urban', 'p', 'c', 'BJ0001',"
            " 'active', now(), now(), 1)"
        ),
        {"id": cid, "no": f"1{n:011d}", "h": f"h{n}"},
    )


def _partitions(conn) -> dict[str, int]:
    return dbkit.partition_rows(conn, "transaction_record")


def _month(offset: int) -> str:
    return partition_name("transaction_record", add_months(THIS_MONTH, offset))


@pytest.mark.postgres
def test_migration_partitions_stored_transactions_and_downgrade_restores_them(pg_url):
    cfg = dbkit.alembic_config(ALEMBIC_INI, pg_url)
    command.upgrade(cfg, BEFORE)
    db = Database(pg_url)
    cid = uuid.uuid4()
    months = [add_months(THIS_MONTH, -k) for k in (0, 2, 14)]
    with db.engine.begin() as conn:
        _customer(conn, cid)
        for k, m in enumerate(months):
            conn.execute(
                text(
                    "INSERT INTO transaction_record (id, external_id, customer_id, kind, amount_fen, channel,"
                    " occurred_at, customer_initiated, recorded_at) VALUES (:id, :ext, :c, 'deposit', 100,"
                    " 'counter', :at, true, now())"
                ),
                {"id": uuid.uuid4(), "ext": f"OLD-{k}", "c": cid, "at": m.replace(day=3)},
            )
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        parts = _partitions(conn)
        assert conn.execute(text("SELECT count(*) FROM transaction_external_id")).scalar_one() == 3
    # a partition for every month from the oldest row to three months ahead, and the default
    assert len(parts) == 14 + 3 + 1 + 1 and parts["transaction_record_default"] == 0
    assert {n: c for n, c in parts.items() if c} == {_month(0): 1, _month(-2): 1, _month(-14): 1}
    assert _month(3) in parts and _month(4) not in parts
    command.downgrade(cfg, BEFORE)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM transaction_record")).scalar_one() == 3
        assert _partitions(conn) == {}
    db.dispose()


@pytest.mark.postgres
def test_job_creates_months_ahead_and_moves_a_months_rows_out_of_the_default(pg):
    cid = uuid.uuid4()
    far = add_months(THIS_MONTH, 5)  # past the partitions made at migration: lands in the default
    with pg.engine.begin() as conn:
        _customer(conn, cid)
    result = ingest_transactions(
        pg, items=[f.txn(str(cid), occurred_at=far.replace(day=2).isoformat())], now=far.replace(day=3)
    )
    assert result.recorded_count == 1
    with pg.engine.connect() as conn:
        assert _partitions(conn)["transaction_record_default"] == 1
    assert ensure_partitions_ahead(pg, metadata, NOW) == []  # nothing missing
    created = ensure_partitions_ahead(pg, metadata, add_months(THIS_MONTH, 2))
    assert created == [_month(4), _month(5)]
    with pg.engine.connect() as conn:
        parts = _partitions(conn)
    assert parts["transaction_record_default"] == 0 and parts[_month(5)] == 1


@pytest.mark.postgres
def test_external_id_stays_unique_across_partitions(pg):
    cid = uuid.uuid4()
    with pg.engine.begin() as conn:
        _customer(conn, cid)
    item = f.txn(str(cid), occurred_at=THIS_MONTH.replace(day=1, hour=1).isoformat())
    assert ingest_transactions(pg, items=[item], now=NOW).recorded_count == 1
    moved = {**item, "occurred_at": add_months(THIS_MONTH, -1).isoformat()}  # another month, another partition
    result = ingest_transactions(pg, items=[moved], now=NOW)
    assert result.rejected[0].code == "external_id_conflict"
    assert ingest_transactions(pg, items=[item], now=NOW).duplicate_count == 1


@pytest.mark.postgres
def test_month_bounded_list_scans_only_that_months_partition(pg):
    cid = uuid.uuid4()
    with pg.engine.begin() as conn:
        _customer(conn, cid)
    items = [f.txn(str(cid), occurred_at=add_months(THIS_MONTH, -k).replace(day=5).isoformat()) for k in range(3)]
    assert ingest_transactions(pg, items=items, now=NOW).recorded_count == 3
    assert ensure_partitions_ahead(pg, metadata, NOW) == [_month(-2), _month(-1)]  # history out of the default
    last_month = add_months(THIS_MONTH, -1)
    bounded = TransactionFilter(cid, occurred_from=last_month, occurred_to=THIS_MONTH)
    with pg.engine.connect() as conn:
        scanned, plan = dbkit.scanned_relations(conn, transactions_query(bounded, 50, None))
        wide, _ = dbkit.scanned_relations(conn, transactions_query(TransactionFilter(cid), 50, None))
    assert scanned == {_month(-1)}, json.dumps(plan, indent=1)
    assert {_month(0), _month(-1), _month(-2), "transaction_record_default"} <= wide


def test_job_does_nothing_on_sqlite(tmp_path):
    url = dbkit.sqlite_url(tmp_path / "profile.db")
    dbkit.migrate(ALEMBIC_INI, url)
    db = Database(url)
    assert ensure_partitions_ahead(db, metadata, NOW) == []
    db.dispose()
