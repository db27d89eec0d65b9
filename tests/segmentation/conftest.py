"""Segmentation test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside an outer transaction rolled back at teardown), a fixed clock
and a feed driver that applies events through the kit's FeedConsumer."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.segmentation.app import create_app
from services.segmentation.config import SegmentationSettings
from tests import dbkit
from tests.segmentation.factories import Clock, Feed

ALEMBIC_INI = Path(__file__).parents[2] / "services" / "segmentation" / "alembic.ini"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def segmentation_settings(url: str, **overrides) -> SegmentationSettings:
    base = {
        "environment": "test",
        "database_url": url,
        "log_level": "WARNING",
        "profile_feed_url": "",
        "loyalty_feed_url": "",
        "feedback_feed_url": "",
        "recompute_inline": True,
    }
    return SegmentationSettings(**(base | overrides))


@pytest.fixture(scope="session")
def seg_sqlite_template(tmp_path_factory) -> Path:
    return dbkit.sqlite_template(tmp_path_factory, "segmentation", ALEMBIC_INI)


@pytest.fixture(scope="session")
def seg_pg_url() -> str:
    return dbkit.migrated_pg_database("segmentation", ALEMBIC_INI)


@pytest.fixture(params=BACKENDS)
def seg_db(request, tmp_path):
    """A Database the test owns: its own SQLite file, or a rolled-back PostgreSQL transaction."""
    with dbkit.owned_database(
        request.param,
        template=lambda: request.getfixturevalue("seg_sqlite_template"),
        pg_url=lambda: request.getfixturevalue("seg_pg_url"),
        tmp_path=tmp_path,
    ) as db:
        yield db


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def settings(seg_db) -> SegmentationSettings:
    return segmentation_settings(seg_db.url)


@pytest.fixture
def seg_app(seg_db, settings, clock):
    return create_app(settings, db=seg_db, clock=clock)


@pytest.fixture
def client(seg_app):
    with TestClient(seg_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def feed(seg_db, settings, clock) -> Feed:
    return Feed(seg_db, settings, clock)
