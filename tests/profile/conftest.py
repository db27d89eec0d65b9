"""Profile test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside an outer transaction rolled back at teardown)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from services.common.db import Database
from services.profile.app import create_app
from services.profile.config import ProfileSettings
from tests import dbkit

ALEMBIC_INI = Path(__file__).parents[2] / "services" / "profile" / "alembic.ini"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def profile_settings(url: str, **overrides) -> ProfileSettings:
    return ProfileSettings(environment="test", database_url=url, log_level="WARNING", **overrides)


@pytest.fixture(scope="session")
def profile_sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("profile-template") / "profile.db"
    dbkit.migrate(ALEMBIC_INI, dbkit.sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def profile_pg_url() -> str:
    dbkit.require_postgres()
    url = dbkit.fresh_pg_database(f"test_profile_{dbkit.worker_id()}")
    dbkit.migrate(ALEMBIC_INI, url)
    return url


@pytest.fixture(params=BACKENDS)
def profile_db(request, tmp_path):
    """A Database the test owns: its own SQLite file, or a rolled-back PostgreSQL transaction."""
    if request.param == "sqlite":
        path = dbkit.copy_sqlite(request.getfixturevalue("profile_sqlite_template"), tmp_path / "profile.db")
        db = Database(dbkit.sqlite_url(path))
        yield db
        db.dispose()
        return
    url = request.getfixturevalue("profile_pg_url")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    conn = engine.connect()
    outer = conn.begin()
    db = Database(connection=conn)
    yield db
    outer.rollback()
    conn.close()
    engine.dispose()


@pytest.fixture
def profile_app(profile_db):
    return create_app(profile_settings(profile_db.url), db=profile_db)


@pytest.fixture
def client(profile_app):
    with TestClient(profile_app, raise_server_exceptions=False) as c:
        yield c
