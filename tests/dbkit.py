"""Test databases: SQLite files copied from a template migrated once per run, and PostgreSQL
databases per service per xdist worker, migrated once. PostgreSQL tests fail in CI when the server
is missing and skip elsewhere."""

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.common.db import Database
from tests.event_contract import check_outbox
from tests.organisation import COPIES, seed_organisation

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def alembic_config(alembic_ini: Path, url: str) -> Config:
    cfg = Config(str(alembic_ini))
    cfg.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def migrate(alembic_ini: Path, url: str, revision: str = "head") -> None:
    """Upgrades to `revision`; a database taken to head also gets the tests' organisation
    (tests/organisation.py): profile's tree, which every customer a test registers belongs to, and
    the other services' copies of it."""
    command.upgrade(alembic_config(alembic_ini, url), revision)
    service = alembic_ini.parent.name
    if revision == "head" and (service == "profile" or service in COPIES):
        seed_organisation(url, service)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def copy_sqlite(template: Path, dest: Path) -> Path:
    shutil.copyfile(template, dest)
    return dest


def postgres_reachable() -> str | None:
    """None when reachable, else the reason."""
    try:
        engine = create_engine(_driver(PG_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as err:  # noqa: BLE001
        return f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string()}: {type(err).__name__}"


def require_postgres() -> None:
    reason = postgres_reachable()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(reason + " (CI must run the PostgreSQL tests)")
    pytest.skip(reason)


def _driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


# Every database a run creates is named after the run (TEST_RUN_ID, set once per pytest session by
# tests/conftest.py and inherited by the xdist workers), so two runs on one server never meet, and
# each worker drops what it created when its session ends.
_created: set[str] = set()


def fresh_pg_database(name: str) -> str:
    """Drops and creates database `name` on the test server; returns its URL. It is dropped again
    when the test session ends (drop_created_databases)."""
    admin = create_engine(_driver(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _created.add(name)
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_created_databases() -> None:
    if not _created or postgres_reachable() is not None:
        return
    admin = create_engine(_driver(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in sorted(_created):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    _created.clear()


def worker_id() -> str:
    """This run and this xdist worker, for database names: `<run id>_<worker>`."""
    run = os.environ.get("TEST_RUN_ID", "local")
    return f"{run}_{os.environ.get('PYTEST_XDIST_WORKER', 'gw') or 'gw'}"


def sqlite_template(tmp_path_factory, service: str, alembic_ini: Path) -> Path:
    """A SQLite file migrated once per test session, for copying per test."""
    path = tmp_path_factory.mktemp(f"{service}-template") / f"{service}.db"
    migrate(alembic_ini, sqlite_url(path))
    return path


def migrated_pg_database(service: str, alembic_ini: Path) -> str:
    """The service's PostgreSQL test database for this xdist worker, created fresh and migrated."""
    require_postgres()
    url = fresh_pg_database(f"test_{service}_{worker_id()}")
    migrate(alembic_ini, url)
    return url


@contextmanager
def owned_database(
    backend: str,
    *,
    template: Callable[[], Path],
    pg_url: Callable[[], str],
    tmp_path: Path,
    service: str,
) -> Iterator[Database]:
    """A Database one test owns: its own copy of the SQLite template, or on PostgreSQL an outer
    transaction rolled back at teardown (the app's sessions join it through savepoints). The
    template and URL come through callables so that only the backend in use is set up. At teardown,
    every event the test left in the service's outbox must keep the event contract (docs/events/)."""
    if backend == "sqlite":
        source = template()
        db = Database(sqlite_url(copy_sqlite(source, tmp_path / source.name)))
        try:
            yield db
            with db.engine.connect() as conn:
                _keep_contract(conn, service)
        finally:
            db.dispose()
        return
    engine = create_engine(_driver(pg_url()))
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield Database(connection=conn)
        _keep_contract(conn, service)
    finally:
        outer.rollback()
        conn.close()
        engine.dispose()


def _keep_contract(conn: Any, service: str) -> None:
    problems = check_outbox(conn, service)
    if problems:
        pytest.fail("events out of contract:\n" + "\n".join(problems[:20]), pytrace=False)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def database_fixtures(prefix: str, service: str, alembic_ini: Path) -> tuple[Any, Any, Any]:
    """A service's three database fixtures, named `<prefix>_sqlite_template` (migrated once per run),
    `<prefix>_pg_url` (this worker's migrated PostgreSQL database) and `<prefix>_db` (a Database one
    test owns, once per backend). A conftest binds them to module names so pytest finds them."""

    @pytest.fixture(scope="session", name=f"{prefix}_sqlite_template")
    def template(tmp_path_factory) -> Path:
        return sqlite_template(tmp_path_factory, service, alembic_ini)

    @pytest.fixture(scope="session", name=f"{prefix}_pg_url")
    def pg_url() -> str:
        return migrated_pg_database(service, alembic_ini)

    @pytest.fixture(params=BACKENDS, name=f"{prefix}_db")
    def db(request, tmp_path) -> Iterator[Database]:
        with owned_database(
            request.param,
            template=lambda: request.getfixturevalue(f"{prefix}_sqlite_template"),
            pg_url=lambda: request.getfixturevalue(f"{prefix}_pg_url"),
            tmp_path=tmp_path,
            service=service,
        ) as owned:
            yield owned

    return template, pg_url, db


def stored_in_clear(db: Database, needle: str) -> list[str]:
    """Where `needle` is stored in the clear: a SQLite file of `db` (database, WAL, shared memory,
    journal) or, on PostgreSQL, a text or JSON column of any table of its schema."""
    if db.url.startswith("sqlite"):
        main = db.url.removeprefix("sqlite:///")
        paths = (Path(main + suffix) for suffix in ("", "-wal", "-shm", "-journal"))
        return [p.name for p in paths if p.exists() and needle.encode() in p.read_bytes()]
    with db.read() as s:
        columns = s.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')"
            )
        ).all()
        query = 'SELECT 1 FROM "{}" WHERE "{}"::text LIKE :v LIMIT 1'
        return [f"{t}.{c}" for t, c in columns if s.execute(text(query.format(t, c)), {"v": f"%{needle}%"}).first()]


def fresh_database_fixture(service: str, template: str, alembic_ini: Path) -> Any:
    """A fixture: a migrated database with real commits across connections, on SQLite and PostgreSQL
    (`template`: the name of the service's SQLite template fixture)."""

    @pytest.fixture(params=BACKENDS)
    def fresh(request: Any, tmp_path: Path) -> Iterator[Database]:
        if request.param == "sqlite":
            url = sqlite_url(copy_sqlite(request.getfixturevalue(template), tmp_path / f"{service}.db"))
        else:
            require_postgres()
            url = fresh_pg_database(f"test_{service}_fresh_{worker_id()}")
            migrate(alembic_ini, url)
        db = Database(url)
        yield db
        db.dispose()

    return fresh


def partition_fixtures(service: str, alembic_ini: Path) -> tuple[Any, Any]:
    """The partition tests' two fixtures: `pg_url`, a fresh empty PostgreSQL database of the test's own
    (`test_<service>_partitions_<worker>`), and `pg`, that database migrated to head as a Database (real
    commits). A test module binds them to module names so pytest finds them."""

    @pytest.fixture(name="pg_url")
    def pg_url() -> str:
        require_postgres()
        return fresh_pg_database(f"test_{service}_partitions_{worker_id()}")

    @pytest.fixture(name="pg")
    def pg(pg_url: str) -> Iterator[Database]:
        migrate(alembic_ini, pg_url)
        db = Database(pg_url)
        yield db
        db.dispose()

    return pg_url, pg


def partition_rows(conn: Any, table: str) -> dict[str, int]:
    """{partition: rows} of a table partitioned on PostgreSQL (empty when it is not)."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t"
        ),
        {"t": table},
    ).scalars()
    return {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}  # noqa: S608


def _scanned(plan: dict[str, Any]) -> set[str]:
    found = {plan["Relation Name"]} if "Relation Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= _scanned(child)
    return found


def scanned_relations(conn: Any, stmt: Any) -> tuple[set[str], dict[str, Any]]:
    """Every relation PostgreSQL's plan for `stmt` reads, and the plan (for the failure message)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})  # IN (...) lists
    explain = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
    plan = (explain if isinstance(explain, list) else json.loads(explain))[0]["Plan"]
    return _scanned(plan), plan
