"""Feedback test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside an outer transaction rolled back at teardown), with a clock
the test moves."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.feedback.app import create_app
from services.feedback.config import FeedbackSettings
from tests import dbkit

ALEMBIC_INI = Path(__file__).parents[2] / "services" / "feedback" / "alembic.ini"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def feedback_settings(url: str, **overrides) -> FeedbackSettings:
    values = {"profile_feed_url": "", "segmentation_feed_url": "", "overdue_sweep_seconds": 0, **overrides}
    return FeedbackSettings(environment="test", database_url=url, log_level="WARNING", **values)


class Clock:
    """The injected time source: starts at START and moves only when a test says so."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture(scope="session")
def feedback_sqlite_template(tmp_path_factory) -> Path:
    return dbkit.sqlite_template(tmp_path_factory, "feedback", ALEMBIC_INI)


@pytest.fixture(scope="session")
def feedback_pg_url() -> str:
    return dbkit.migrated_pg_database("feedback", ALEMBIC_INI)


@pytest.fixture(params=BACKENDS)
def feedback_db(request, tmp_path):
    """A Database the test owns: its own SQLite file, or a rolled-back PostgreSQL transaction."""
    with dbkit.owned_database(
        request.param,
        template=lambda: request.getfixturevalue("feedback_sqlite_template"),
        pg_url=lambda: request.getfixturevalue("feedback_pg_url"),
        tmp_path=tmp_path,
    ) as db:
        yield db


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings_overrides() -> dict:
    return {}


@pytest.fixture
def feedback_app(feedback_db, clock, settings_overrides):
    return create_app(feedback_settings(feedback_db.url, **settings_overrides), db=feedback_db, clock=clock)


@pytest.fixture
def client(feedback_app):
    with TestClient(feedback_app, raise_server_exceptions=False) as c:
        yield c
