"""Profile test apps on SQLite (a migrated template copied per test) and PostgreSQL (a database per
worker migrated once; each test inside an outer transaction rolled back at teardown)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.profile.app import create_app
from services.profile.config import ProfileSettings
from tests import dbkit

ALEMBIC_INI = Path(__file__).parents[2] / "services" / "profile" / "alembic.ini"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def profile_settings(url: str, **overrides) -> ProfileSettings:
    return ProfileSettings(environment="test", database_url=url, log_level="WARNING", **overrides)


@pytest.fixture(scope="session")
def profile_sqlite_template(tmp_path_factory) -> Path:
    return dbkit.sqlite_template(tmp_path_factory, "profile", ALEMBIC_INI)


@pytest.fixture(scope="session")
def profile_pg_url() -> str:
    return dbkit.migrated_pg_database("profile", ALEMBIC_INI)


@pytest.fixture(params=BACKENDS)
def profile_db(request, tmp_path):
    """A Database the test owns: its own SQLite file, or a rolled-back PostgreSQL transaction."""
    with dbkit.owned_database(
        request.param,
        template=lambda: request.getfixturevalue("profile_sqlite_template"),
        pg_url=lambda: request.getfixturevalue("profile_pg_url"),
        tmp_path=tmp_path,
    ) as db:
        yield db


@pytest.fixture
def profile_app(profile_db):
    return create_app(profile_settings(profile_db.url), db=profile_db)


@pytest.fixture
def client(profile_app):
    with TestClient(profile_app, raise_server_exceptions=False) as c:
        yield c
