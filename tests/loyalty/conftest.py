"""Loyalty test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside a rolled-back outer transaction), an injected clock, and fresh
databases with real commits for the concurrency and crash tests."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.loyalty.app import create_app
from services.loyalty.config import LoyaltySettings
from tests import dbkit
from tests.clock import ManualClock

ALEMBIC_INI = Path(__file__).parents[2] / "services" / "loyalty" / "alembic.ini"
BACKENDS = dbkit.BACKENDS
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
        **{"delivery_in_process": False, **overrides},
    )


class Clock(ManualClock):
    """The injected time source: starts at START and moves only when a test says so."""

    def __init__(self, now: datetime = START):
        super().__init__(now)


loyalty_sqlite_template, loyalty_pg_url, loyalty_db = dbkit.database_fixtures("loyalty", "loyalty", ALEMBIC_INI)


# A migrated database with real commits across connections (concurrency, crashes).
fresh_loyalty_db = dbkit.fresh_database_fixture("loyalty", "loyalty_sqlite_template", ALEMBIC_INI)


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
