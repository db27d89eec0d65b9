"""Profile's identity-documents revision on a database with customers: rows and their keyed hashes
survive the upgrade, the new check admits the new document types only, and the downgrade refuses
while a customer holds one of them."""

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, exc, text

from tests import dbkit

ROOT = Path(__file__).parents[2]
ALEMBIC_INI = ROOT / "services" / "profile" / "alembic.ini"
BEFORE, REVISION = "3f4043acad8f", "b00dfff1cd34"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
INSERT = text(
    "INSERT INTO customer (id, customer_no, type, name, id_type, id_number_enc, id_number_hash, phone_enc,"
    " phone_hash, region_type, province, city, branch_code, status, created_at, updated_at, version)"
    " VALUES (:id, :no, 'individual', 'x', :id_type, 'enc', :hash, 'enc', 'h', 'urban', 'p', 'c', 'BJ01',"
    " 'active', '2026-12-01 00:00:00', '2026-12-01 00:00:00', 1)"
)


def _url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return dbkit.sqlite_url(tmp_path / "profile.db")
    dbkit.require_postgres()
    return dbkit.fresh_pg_database(f"test_profile_documents_{dbkit.worker_id()}")


def _customer(engine, n: int, id_type: str) -> None:
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": f"{n:032x}", "no": f"{n:012d}", "id_type": id_type, "hash": f"hash-{n}"})


@pytest.mark.parametrize("backend", BACKENDS)
def test_identity_documents_revision_keeps_customers_and_guards_its_downgrade(backend, tmp_path):
    url = _url(backend, tmp_path)
    cfg = dbkit.alembic_config(ALEMBIC_INI, url)
    command.upgrade(cfg, BEFORE)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        _customer(engine, 1, "resident_id")
        _customer(engine, 2, "credit_code")
        command.upgrade(cfg, REVISION)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id_type, id_number_hash, id_country FROM customer ORDER BY customer_no"))
            assert [tuple(r) for r in rows] == [("resident_id", "hash-1", None), ("credit_code", "hash-2", None)]
        _customer(engine, 3, "foreign_permanent_id")  # 20 characters: the column grew
        with pytest.raises(exc.IntegrityError):
            _customer(engine, 4, "driving_licence")
        with pytest.raises(RuntimeError, match="1 customers"):
            command.downgrade(cfg, BEFORE)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM customer WHERE id_type = 'foreign_permanent_id'"))
        command.downgrade(cfg, BEFORE)
        with pytest.raises(exc.IntegrityError):
            _customer(engine, 5, "passport")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM customer")).scalar() == 2
    finally:
        engine.dispose()
