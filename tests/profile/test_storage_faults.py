"""Storage faults are 503 storage_unavailable with Retry-After, never a 500, nothing is half-written, and
readiness knows (services/common/storage.py): a real SQLite write lock held past the busy timeout, a real
PostgreSQL table lock past the lock timeout, and a full disk (a file-size limit on a real process)."""

import resource
import sqlite3
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from services.profile.app import create_app
from tests import dbkit
from tests.e2e.conftest import Process, base_env, migrate_service
from tests.profile import factories as f
from tests.profile.conftest import ALEMBIC_INI, profile_settings

ATTEMPTS = 400  # registrations tried until the file-size limit is met


def _storage_unavailable(resp) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.json()["code"] == "storage_unavailable" and resp.headers["retry-after"] == "5"
    assert resp.headers["content-type"].startswith("application/problem+json")


def _count(client, staff) -> int:
    return len(client.get("/v1/customers", params={"limit": 200}, headers=staff).json()["items"])


def test_a_sqlite_lock_held_past_the_busy_timeout_is_503_and_readiness_knows(profile_sqlite_template, tmp_path, auth):
    path = dbkit.copy_sqlite(profile_sqlite_template, tmp_path / "profile.db")
    app = create_app(profile_settings(f"{dbkit.sqlite_url(path)}?timeout=0.2"))
    staff = auth("staff")
    with TestClient(app) as client:
        holder = sqlite3.connect(path)
        holder.execute("BEGIN IMMEDIATE")  # another process's write lock
        try:
            _storage_unavailable(client.post("/v1/customers", json=f.individual(), headers=staff))
            ready = client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["writes"] == "writes failing: OperationalError: database is locked"
        finally:
            holder.rollback()
            holder.close()
        assert client.get("/health/ready").status_code == 503  # the failure is recent, nothing written since
        assert _count(client, staff) == 0  # the refused registration left nothing
        assert client.post("/v1/customers", json=f.individual(), headers=staff).status_code == 201
        assert client.get("/health/ready").status_code == 200  # a write succeeded


def _app_with_a_short_lock_timeout():
    """A fresh PostgreSQL database and profile on it, whose statements give up on a lock after 300 ms."""
    dbkit.require_postgres()
    url = dbkit.fresh_pg_database(f"test_profile_storage_{dbkit.worker_id()}")
    dbkit.migrate(ALEMBIC_INI, url)
    return url, create_app(profile_settings(f"{url}?options=-c%20lock_timeout%3D300"))


@pytest.mark.postgres
def test_a_postgres_lock_held_past_the_lock_timeout_is_503(auth):
    url, app = _app_with_a_short_lock_timeout()
    staff = auth("staff")
    holder = create_engine(dbkit._driver(url)).connect()
    with TestClient(app) as client:
        try:
            with holder.begin():
                holder.execute(text("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE"))
                _storage_unavailable(client.post("/v1/customers", json=f.individual(), headers=staff))
        finally:
            holder.close()
        assert _count(client, staff) == 0
        assert client.post("/v1/customers", json=f.individual(), headers=staff).status_code == 201


@pytest.mark.postgres
def test_a_postgres_lock_on_the_transactions_past_the_lock_timeout_is_503_and_the_batch_leaves_nothing(auth):
    """The batch path writes with COPY past SQLAlchemy: a lock timeout there is still a storage failure
    (503), and the keys and events written before it roll back with the rest."""
    url, app = _app_with_a_short_lock_timeout()
    system = auth("system")
    holder = create_engine(dbkit._driver(url)).connect()
    with TestClient(app) as client:
        customer = f.register(client, auth("staff"))
        items = [f.txn(customer["id"], amount=f"{i + 1}.00") for i in range(20)]
        try:
            with holder.begin():
                holder.execute(text("LOCK TABLE transaction_record IN ACCESS EXCLUSIVE MODE"))
                resp = client.post("/v1/transactions:batch", json={"items": items}, headers=system)
                _storage_unavailable(resp)
        finally:
            holder.close()
        counts = (
            "SELECT (SELECT count(*) FROM transaction_external_id), (SELECT count(*) FROM transaction_record),"
            " (SELECT count(*) FROM outbox_event WHERE type = 'transaction.recorded')"
        )
        with app.state.db.read() as s:
            assert tuple(s.execute(text(counts)).one()) == (0, 0, 0)
        assert f.ingest(client, system, items)["recorded_count"] == 20


def test_a_full_disk_is_503_never_500_and_readiness_says_so_until_space_returns(tmp_path, token):
    database = tmp_path / "profile.db"
    migrate_service("profile", f"sqlite:///{database}")
    limit = 64 * 1024 + max(p.stat().st_size for p in tmp_path.glob("profile.db*"))

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))  # soft: raised again below

    proc = Process(
        "profile",
        "services.profile.app:create_app",
        base_env(PROFILE_DATABASE_URL=f"sqlite:///{database}", PROFILE_ENVIRONMENT="test", PROFILE_LOG_LEVEL="WARNING"),
        Path(tmp_path / "profile.log"),
        preexec=limit_file_size,
    )
    staff = {"Authorization": f"Bearer {token('staff')}"}
    proc.start()
    try:
        with httpx.Client(base_url=proc.url, timeout=30) as client:
            answers = [client.post("/v1/customers", json=f.individual(), headers=staff) for _ in range(ATTEMPTS)]
            statuses = {r.status_code for r in answers}
            assert statuses <= {201, 503}, statuses
            refused = [r for r in answers if r.status_code == 503]
            assert refused, "the file-size limit was never reached"
            _storage_unavailable(refused[0])
            ready = client.get("/health/ready")
            assert ready.status_code == 503 and ready.json()["checks"]["writes"].startswith("writes failing")

            resource.prlimit(proc.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            stored = sum(1 for r in answers if r.status_code == 201)
            assert _count(client, staff) == min(stored, 200)  # every 201 is stored, nothing else
            assert client.post("/v1/customers", json=f.individual(), headers=staff).status_code == 201
            assert client.get("/health/ready").status_code == 200
    finally:
        proc.stop()
