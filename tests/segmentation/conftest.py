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
BACKENDS = dbkit.BACKENDS
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


seg_sqlite_template, seg_pg_url, seg_db = dbkit.database_fixtures("seg", "segmentation", ALEMBIC_INI)


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
