"""Every service's models and migrations agree (alembic check), and its history upgrades, downgrades
to base and upgrades again, on SQLite and PostgreSQL."""

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from tests import dbkit

ROOT = Path(__file__).parents[2]
SERVICES = sorted(p.parent.name for p in ROOT.glob("services/*/alembic.ini"))
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _url(backend: str, service: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return dbkit.sqlite_url(tmp_path / f"{service}.db")
    dbkit.require_postgres()
    return dbkit.fresh_pg_database(f"test_migrations_{service}_{dbkit.worker_id()}")


def _tables(url: str) -> set[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_services_with_migrations_are_found():
    assert "profile" in SERVICES


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_models_and_round_trip(service, backend, tmp_path):
    url = _url(backend, service, tmp_path)
    cfg = dbkit.alembic_config(ROOT / "services" / service / "alembic.ini", url)
    command.upgrade(cfg, "head")
    command.check(cfg)  # raises when autogenerate would emit any operation
    created = _tables(url)
    assert created
    command.downgrade(cfg, "base")
    assert _tables(url) == set()
    command.upgrade(cfg, "head")
    assert _tables(url) == created
