"""Loyalty test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside a rolled-back outer transaction), an injected clock, and fresh
databases with real commits for the concurrency and crash tests."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

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
    return LoyaltySettings(
        environment="test",
        database_url=url,
        log_level="WARNING",
        profile_feed_url="",
        segmentation_feed_url="",
        feedback_feed_url="",
        **overrides,
    )


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
    return dbkit.sqlite_template(tmp_path_factory, "loyalty", ALEMBIC_INI)


@pytest.fixture(scope="session")
def loyalty_pg_url() -> str:
    return dbkit.migrated_pg_database("loyalty", ALEMBIC_INI)


@pytest.fixture(params=BACKENDS)
def loyalty_db(request, tmp_path):
    """A Database the test owns: its own SQLite file, or a rolled-back PostgreSQL transaction."""
    with dbkit.owned_database(
        request.param,
        template=lambda: request.getfixturevalue("loyalty_sqlite_template"),
        pg_url=lambda: request.getfixturevalue("loyalty_pg_url"),
        tmp_path=tmp_path,
    ) as db:
        yield db


@pytest.fixture(params=BACKENDS)
def fresh_loyalty_db(request, tmp_path):
    """A migrated database with real commits across connections (concurrency, crashes)."""
    if request.param == "sqlite":
        url = dbkit.sqlite_url(
            dbkit.copy_sqlite(request.getfixturevalue("loyalty_sqlite_template"), tmp_path / "loyalty.db")
        )
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
