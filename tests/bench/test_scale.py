"""bench.scale cannot rot: its loader and two measurements run end to end on PostgreSQL at 200
customers (COPY into each service's own database, transactions in their monthly partitions, the
suite's profile process, an ingest through the API, the daily recompute, the databases' sizes)."""

import json

import pytest
from sqlalchemy import create_engine, text

from bench import scale
from bench.scale_load import SERVICES, database_url, drop_databases
from tests import dbkit

CUSTOMERS = 200


def _count(url: str, sql: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_scale_loads_and_measures_at_200_customers(tmp_path, monkeypatch):
    dbkit.require_postgres()
    monkeypatch.setattr("bench.scale_load.PG_URL", dbkit.PG_URL)
    prefix = f"scale_{dbkit.worker_id()}"
    out = tmp_path / "scale.json"
    argv = ["--customers", str(CUSTOMERS), "--baseline", "0", "--measure", "ingest,recompute,sizes"]
    argv += ["--ingest-calls", "1", "--prefix", prefix, "--keep", "--json", str(out)]
    try:
        assert scale.main(argv) == 0
        figures = json.loads(out.read_text())
        urls = {s: database_url(prefix, s) for s in SERVICES}
        assert _count(urls["profile"], "SELECT count(*) FROM customer") == CUSTOMERS
        # the loaded 2,000 and the 1,000 ingested, none waiting in the default partition
        assert _count(urls["profile"], "SELECT count(*) FROM transaction_record") == CUSTOMERS * 10 + 1000
        assert _count(urls["profile"], "SELECT count(*) FROM transaction_record_default") == 0
        assert _count(urls["loyalty"], "SELECT count(*) FROM points_ledger_entry_key") == CUSTOMERS
        assert _count(urls["segmentation"], "SELECT count(*) FROM customer_feature") == CUSTOMERS
    finally:
        drop_databases(prefix)
    assert figures["failures"] == [] and figures["ingest_txns_per_s"] > 0
    assert figures["recompute_s"] >= 0 and set(figures["database_mb"]) == set(SERVICES)
    assert set(figures["load_s"]) == {"migrate", "profile", "loyalty", "segmentation", "analyse", "total"}
