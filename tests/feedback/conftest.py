"""Feedback test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside an outer transaction rolled back at teardown), with a clock
the test moves."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.feedback.app import create_app
from services.feedback.config import FeedbackSettings
from tests import dbkit
from tests.clock import ManualClock

ALEMBIC_INI = Path(__file__).parents[2] / "services" / "feedback" / "alembic.ini"
BACKENDS = dbkit.BACKENDS
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def feedback_settings(url: str, **overrides) -> FeedbackSettings:
    values = {"profile_feed_url": "", "segmentation_feed_url": "", "jobs_in_process": False, **overrides}
    return FeedbackSettings(environment="test", database_url=url, log_level="WARNING", **values)


class Clock(ManualClock):
    """The injected time source: starts at START and moves only when a test says so."""

    def __init__(self, now: datetime = START):
        super().__init__(now)


feedback_sqlite_template, feedback_pg_url, feedback_db = dbkit.database_fixtures("feedback", "feedback", ALEMBIC_INI)


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
