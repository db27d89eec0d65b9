"""Logs never carry what people typed, even when a write fails half-way: each service, as a real
process on SQLite and on PostgreSQL, gets a write whose text holds a name, an address, a spaced mobile,
a landline and a bank card, while its table refuses every insert (a trigger on SQLite; on PostgreSQL
a `CHECK (false)` constraint, whose error DETAIL lists the whole failing row). The write fails with a
5xx and a logged error, and the log holds none of the values."""

import json

import httpx
import pytest
from sqlalchemy import text

from services.common.config import DEV_JWT_SECRET
from services.common.db import Database
from tests.dbkit import fresh_pg_database, require_postgres, worker_id
from tests.e2e.conftest import Process, base_env, migrate_service

pytestmark = pytest.mark.e2e

NAME, ADDRESS, MOBILE, LANDLINE, CARD = (
    "王小明",
    "北京市朝阳区建国路88号",
    "139 8765 4321",
    "010-87654321",
    "6222 0212 3456 7890",
)
TYPED = f"{NAME}，住{ADDRESS}，手机{MOBILE}，座机{LANDLINE}，卡号{CARD}"
VALUES = (NAME, "建国路", MOBILE, "87654321", LANDLINE, CARD, "3456 7890", "6222021234567890")

# (service, app factory, table written, role, path, body); the body's free text holds TYPED
WRITES = [
    (
        "profile",
        "services.profile.app:create_app",
        "customer",
        "staff",
        "/v1/customers",
        {
            "type": "individual",
            "name": NAME,
            "resident_id": "11010519491231002X",
            "phone": MOBILE,
            "region_type": "urban",
            "province": "北京",
            "city": "北京",
            "branch_code": "BJ0001",
        },
    ),
    (
        "feedback",
        "services.feedback.app:create_app",
        "survey",
        "staff",
        "/v1/surveys",
        {
            "title": TYPED,
            "channel": "app",
            "opens_at": "2020-01-01T00:00:00Z",
            "closes_at": "2099-01-01T00:00:00Z",
            "questions": [{"id": "nps", "type": "nps", "text": TYPED}],
        },
    ),
    (
        "loyalty",
        "services.loyalty.app:create_app",
        "reward",
        "supervisor",
        "/v1/loyalty/rewards",
        {
            "code": "g-logs",
            "name": TYPED[:80],
            "type": "gift",
            "points_price": 100,
            "stock": 10,
            "active_from": "2026-01-01T00:00:00Z",
        },
    ),
    (
        "segmentation",
        "services.segmentation.app:create_app",
        "segment",
        "staff",
        "/v1/segments",
        {"name": TYPED[:80], "description": TYPED, "rule": {"field": "aum", "op": "gte", "value": "500000.00"}},
    ),
]
NO_FEEDS = {
    "feedback": ("PROFILE", "SEGMENTATION"),
    "loyalty": ("PROFILE", "SEGMENTATION", "FEEDBACK"),
    "segmentation": ("PROFILE", "LOYALTY", "FEEDBACK"),
}


def _refuse_inserts(url: str, table: str) -> None:
    db = Database(url)
    try:
        with db.write() as s:
            if url.startswith("sqlite"):
                s.execute(
                    text(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END")
                )
            else:
                s.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT refuse CHECK (false) NOT VALID"))
            s.commit()
    finally:
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize(("service", "factory", "table", "role", "path", "body"), WRITES, ids=[w[0] for w in WRITES])
def test_a_failed_write_logs_none_of_the_values_it_carried(
    backend, service, factory, table, role, path, body, tmp_path, auth
):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / service}.db"
    else:
        require_postgres()
        url = fresh_pg_database(f"test_logs_{service}_{worker_id()}")
    migrate_service(service, url)
    _refuse_inserts(url, table)
    prefix = service.upper()
    feeds = {f"{prefix}_{owner}_FEED_URL": "" for owner in NO_FEEDS.get(service, ())}
    env = base_env(
        **{
            f"{prefix}_DATABASE_URL": url,
            f"{prefix}_ENVIRONMENT": "test",
            f"{prefix}_JWT_SECRET": DEV_JWT_SECRET,
            **({f"{prefix}_JOBS_IN_PROCESS": "false"} if service != "profile" else {}),
            **feeds,
        }
    )
    process = Process(service, factory, env, tmp_path / f"{service}.log")
    process.start()
    try:
        resp = httpx.post(f"{process.url}{path}", json=body, headers=auth(role), timeout=30)
    finally:
        process.stop()
    log = process.log_path.read_text(errors="replace")
    assert resp.status_code >= 500, resp.text  # the write failed on the database, as arranged
    assert "unexpected error" in log or "storage unavailable" in log, log[-3000:]
    assert "refuse" in log, log[-3000:]  # the database's own error text reached the log
    sent = [value for value in VALUES if value in json.dumps(body, ensure_ascii=False)]
    assert sent
    leaked = [value for value in sent if value in log]
    assert not leaked, f"{leaked} in the log:\n{log[-3000:]}"
