"""Profile test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside an outer transaction rolled back at teardown)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.profile.app import create_app
from services.profile.config import ProfileSettings
from tests import dbkit

ALEMBIC_INI = Path(__file__).parents[2] / "services" / "profile" / "alembic.ini"
BACKENDS = dbkit.BACKENDS


def profile_settings(url: str, **overrides) -> ProfileSettings:
    return ProfileSettings(
        environment="test", database_url=url, log_level="WARNING", **{"jobs_in_process": False, **overrides}
    )


profile_sqlite_template, profile_pg_url, profile_db = dbkit.database_fixtures("profile", "profile", ALEMBIC_INI)


@pytest.fixture
def profile_app(profile_db):
    return create_app(profile_settings(profile_db.url), db=profile_db)


@pytest.fixture
def client(profile_app):
    with TestClient(profile_app, raise_server_exceptions=False) as c:
        yield c
