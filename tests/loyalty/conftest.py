"""Loyalty test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside a rolled-back outer transaction), an injected clock, and fresh
databases with real commits for the concurrency and crash tests."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from services.common.db import Database
from services.loyalty.app import create_app
from services.loyalty.config import LoyaltySettings
from tests import dbkit

ALEMBIC_INI = Path(__file__).parents[2] / "services" / "loyalty" / "alembic.ini"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# For tests of validation and roles, which never reach the database: once is enough.
SQLITE_ONLY = pytest.mark.parametrize("loyalty_db", ["sqlite"], indirect=True)
START = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def loyalty_settings(url: str, **overrides) -> LoyaltySettings:
    return LoyaltySettings(environment="test", database_url=url, log_level="WARNING", profile_feed_url="",
                           segmentation_feed_url="", feedback_feed_url="", **overrides)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime = START):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw) -> datetime:
        self.at += timedelta(**kw)
        return self.at

    def set(self, at: datetime) -> datetime:
        self.at = at
        return at


@pytest.fixture(scope="session")
def loyalty_sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("loyalty-template") / "loyalty.db"
    dbkit.migrate(ALEMBIC_INI, dbkit.sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def loyalty_pg_url() -> str:
    dbkit.require_postgres()
    url = dbkit.fresh_pg_database(f"test_loyalty_{dbkit.worker_id()}")
    dbkit.migrate(ALEMBIC_INI, url)
    return url


@pytest.fixture(params=BACKENDS)
def loyalty_db(request, tmp_path):
    """A Database the test owns: its own SQLite file, or a rolled-back PostgreSQL transaction."""
    if request.param == "sqlite":
        path = dbkit.copy_sqlite(request.getfixturevalue("loyalty_sqlite_template"), tmp_path / "loyalty.db")
        db = Database(dbkit.sqlite_url(path))
        yield db
        db.dispose()
        return
    url = request.getfixturevalue("loyalty_pg_url")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    conn = engine.connect()
    outer = conn.begin()
    db = Database(connection=conn)
    yield db
    outer.rollback()
    conn.close()
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def fresh_loyalty_db(request, tmp_path):
    """A migrated database with real commits across connections (concurrency, crashes)."""
    if request.param == "sqlite":
        url = dbkit.sqlite_url(dbkit.copy_sqlite(request.getfixturevalue("loyalty_sqlite_template"),
                                                 tmp_path / "loyalty.db"))
    else:
        dbkit.require_postgres()
        url = dbkit.fresh_pg_database(f"test_loyalty_fresh_{dbkit.worker_id()}")
        dbkit.migrate(ALEMBIC_INI, url)
    db = Database(url)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def loyalty_app(loyalty_db, clock):
    return create_app(loyalty_settings(loyalty_db.url), db=loyalty_db, clock=clock)


@pytest.fixture
def client(loyalty_app):
    with TestClient(loyalty_app, raise_server_exceptions=False) as c:
        yield c
