"""`make run DB=postgres` in miniature: scripts/migrate.sh and scripts/run.sh with DB=postgres create a
database per service on the server (once), migrate each, and start the suite on them; a customer
registered through the gateway lands in profile's own PostgreSQL database."""

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.dbkit import PG_URL, require_postgres, worker_id
from tests.e2e.conftest import base_env, free_port
from tests.organisation import seed_organisation

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
REGISTRATION = {
    "type": "individual",
    "name": "李四",
    "resident_id": "11010519491231002X",
    "phone": "13912345678",
    "region_type": "urban",
    "province": "北京",
    "city": "北京",
    "branch_code": "BJ0001",
}


def runnable_services() -> list[str]:
    """Services with both migrations and a Procfile line: what `make run` can start today."""
    procfile = {line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line}
    return sorted(ini.parent.name for ini in ROOT.glob("services/*/alembic.ini") if ini.parent.name in procfile)


def admin_engine():
    return create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")


def drop_databases(prefix: str) -> None:
    engine = admin_engine()
    with engine.connect() as conn:
        names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": prefix + "%"})
        for name in names.scalars().all():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def pg_run_env() -> Iterator[dict[str, str]]:
    require_postgres()
    prefix = f"test_runpg_{worker_id()}_"
    drop_databases(prefix)
    services = runnable_services()
    assert "profile" in services
    server = make_url(PG_URL).set(database=None).render_as_string(hide_password=False)
    ports = {f"{s.upper()}_PORT": str(free_port()) for s in [*services, "gateway"]}
    env = base_env(
        DB="postgres",
        SUITE_POSTGRES_URL=server,
        SUITE_POSTGRES_DB_PREFIX=prefix,
        SUITE_SERVICES=",".join(services),
        SUITE_DEMO="0",
        **ports,
        **{f"{s.upper()}_LOG_LEVEL": "WARNING" for s in [*services, "gateway"]},
    )
    try:
        yield env
    finally:
        drop_databases(prefix)


def migrate(env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["bash", "scripts/migrate.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def database_url(env: dict[str, str], service: str) -> str:
    return make_url(PG_URL).set(database=env["SUITE_POSTGRES_DB_PREFIX"] + service).render_as_string(False)


def scalar(url: str, sql: str):
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_migrate_unknown_db_mode_refused(pg_run_env):
    done = subprocess.run(
        ["bash", "scripts/migrate.sh"],
        cwd=ROOT,
        env={**pg_run_env, "DB": "oracle"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "DB must be sqlite or postgres" in done.stderr


def test_migrate_then_run_postgres_database_per_service_created_once_suite_serves_from_them(pg_run_env, auth):
    first = migrate(pg_run_env)
    services = pg_run_env["SUITE_SERVICES"].split(",")
    assert sorted(re.findall(r"created database (\S+)", first.stderr)) == sorted(
        pg_run_env["SUITE_POSTGRES_DB_PREFIX"] + s for s in services
    )
    for service in services:
        assert scalar(database_url(pg_run_env, service), "SELECT count(*) FROM alembic_version") == 1
    assert "created database" not in migrate(pg_run_env).stderr  # the second time finds them
    seed_organisation(database_url(pg_run_env, "profile"))  # the branch the registration names

    gateway = f"http://127.0.0.1:{pg_run_env['GATEWAY_PORT']}"
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=pg_run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != "ok":
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            with contextlib.suppress(httpx.TransportError, ValueError):
                status = httpx.get(f"{gateway}/health", timeout=2).json()["status"]
            time.sleep(0.3)
        assert status == "ok"
        r = httpx.post(f"{gateway}/api/v1/customers", json=REGISTRATION, headers=auth("staff"), timeout=10)
        assert r.status_code == 201, r.text
        count = scalar(database_url(pg_run_env, "profile"), "SELECT count(*) FROM customer")
        assert count == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the supervisor, which stops what it started
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
