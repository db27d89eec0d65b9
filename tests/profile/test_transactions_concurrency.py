"""Core-banking feeds sending the same batch at once store each transaction once, and migration runs
sending the same customers at once register each once, with one event each, on PostgreSQL with real
commits (a fresh database, not the rolled-back per-test transaction)."""

import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.common.auth import Principal
from services.common.db import Database
from services.profile.app import build_privacy
from services.profile.models import Customer, TransactionRecord, outbox
from services.profile.service.bulk_registration import register_customers
from services.profile.service.transactions import ingest_transactions
from tests import dbkit
from tests.profile import factories as f
from tests.profile.conftest import ALEMBIC_INI, profile_settings

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def committed_pg():
    dbkit.require_postgres()
    url = dbkit.fresh_pg_database(f"test_profile_txrace_{dbkit.worker_id()}")
    dbkit.migrate(ALEMBIC_INI, url)
    db = Database(url)
    yield db
    db.dispose()


@pytest.mark.postgres
def test_concurrent_identical_batches_store_each_transaction_once(committed_pg):
    cid = uuid.uuid4()
    with committed_pg.write() as s:
        s.add(
            Customer(
                id=cid,
                customer_no="100000000001",
                type="individual",
                name="n",
                id_type="resident_id",
                id_number_enc="e",
                id_number_hash="h",
                phone_enc="p",
                phone_hash="ph",
                region_type="urban",
                province="p",
                city="c",
                branch_code="BJ0001",
            )
        )
        s.commit()
    items = [f.txn(str(cid), amount=f"{i + 1}.00") for i in range(300)]
    results, errors = _at_once(3, lambda: ingest_transactions(committed_pg, items=items, now=NOW))
    assert errors == []
    assert sum(r.recorded_count for r in results) == 300
    assert sum(r.duplicate_count for r in results) == 600
    with committed_pg.read() as s:
        assert s.execute(select(func.count()).select_from(TransactionRecord)).scalar_one() == 300
        assert s.execute(select(func.count()).select_from(outbox)).scalar_one() == 300


def _at_once(n: int, call) -> tuple[list, list]:
    results, errors = [], []
    start = threading.Barrier(n)

    def run():
        start.wait()
        try:
            results.append(call())
        except Exception as err:  # noqa: BLE001 - reported by the caller
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


@pytest.mark.postgres
def test_concurrent_identical_customer_batches_register_each_customer_once(committed_pg):
    items = [{**f.individual(), "external_id": f"LEGACY-RACE-{i}"} for i in range(200)]
    privacy = build_privacy(profile_settings(committed_pg.url))
    actor = Principal(sub="migration", role="system", scopes=frozenset({"customers:write"}))
    results, errors = _at_once(
        3, lambda: register_customers(committed_pg, items=items, actor=actor, privacy=privacy, now=NOW)
    )
    assert errors == []
    assert sum(r.registered_count for r in results) == 200
    assert sum(r.duplicate_count for r in results) == 400
    with committed_pg.read() as s:
        assert s.execute(select(func.count()).select_from(Customer)).scalar_one() == 200
        assert s.execute(select(func.count()).select_from(outbox)).scalar_one() == 200
