"""Databases for kit tests: a fresh SQLite file or a fresh PostgreSQL database, tables from metadata."""

import pytest
from sqlalchemy import MetaData

from services.common.consumer import consumer_cursor_table
from services.common.db import Database
from services.common.outbox import outbox_table
from tests import dbkit


def kit_metadata() -> MetaData:
    md = MetaData()
    outbox_table(md)
    consumer_cursor_table(md)
    return md


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_db(request, tmp_path):
    """A database with real commits (no outer transaction), for concurrency tests."""
    if request.param == "sqlite":
        url = dbkit.sqlite_url(tmp_path / "kit.db")
    else:
        dbkit.require_postgres()
        url = dbkit.fresh_pg_database(f"test_kit_{dbkit.worker_id()}")
    db = Database(url)
    yield db
    db.dispose()
