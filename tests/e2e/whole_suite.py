"""The whole suite as real processes: profile, loyalty, segmentation and feedback, each on its own
database (SQLite, or PostgreSQL), every feed between them, and the gateway over all four. Scheduled
jobs do not run in process, so that a test's steps are the only writers; consumers poll often."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from services.common.config import DEV_JWT_SECRET
from services.common.db import Database
from tests.dbkit import fresh_pg_database, require_postgres, worker_id
from tests.e2e.conftest import Process, base_env, migrate_service

SERVICES = ("profile", "loyalty", "segmentation", "feedback")
DRAIN_DEADLINE = 60.0
# Each consuming service's cursors (consumer name in its consumer_cursor table) and whose feed each reads.
CURSORS = {
    "loyalty": {"loyalty-profile": "profile", "loyalty-segmentation": "segmentation", "loyalty-feedback": "feedback"},
    "segmentation": {"profile": "profile", "loyalty": "loyalty", "feedback": "feedback"},
    "feedback": {"profile": "profile", "segmentation": "segmentation"},
}


@dataclass
class WholeSuite:
    procs: dict[str, Process]
    dbs: dict[str, Database]  # the consuming services' databases, where their feed cursors are read


def _process(name: str, factory: str, tmp_path, **env: str) -> Process:
    prefix = name.upper()
    settings = {
        f"{prefix}_ENVIRONMENT": "test",
        f"{prefix}_LOG_LEVEL": "WARNING",
        f"{prefix}_JWT_SECRET": DEV_JWT_SECRET,
    }
    if name in CURSORS:  # a consumer, with scheduled jobs: the plan's steps are the only writers
        settings |= {f"{prefix}_JOBS_IN_PROCESS": "false", f"{prefix}_FEED_IDLE_SECONDS": "0.2"}
    return Process(name, factory, base_env(**settings, **env), tmp_path / f"{name}.log")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def whole_suite(request, tmp_path) -> Iterator[WholeSuite]:
    """Every service on its own database with every feed between them, and the gateway over all four."""
    if request.param == "sqlite":
        urls = {name: f"sqlite:///{tmp_path / name}.db" for name in SERVICES}
    else:
        require_postgres()
        urls = {name: fresh_pg_database(f"test_e2e_whole_{name}_{worker_id()}") for name in SERVICES}
    with ThreadPoolExecutor(len(SERVICES)) as pool:
        list(pool.map(lambda name: migrate_service(name, urls[name]), SERVICES))
    profile = _process("profile", "services.profile.app:create_app", tmp_path, PROFILE_DATABASE_URL=urls["profile"])
    feedback = _process(
        "feedback", "services.feedback.app:create_app", tmp_path, FEEDBACK_DATABASE_URL=urls["feedback"]
    )
    loyalty = _process("loyalty", "services.loyalty.app:create_app", tmp_path, LOYALTY_DATABASE_URL=urls["loyalty"])
    segmentation = _process(
        "segmentation", "services.segmentation.app:create_app", tmp_path, SEGMENTATION_DATABASE_URL=urls["segmentation"]
    )
    feed = {p.name: f"{p.url}/v1/events" for p in (profile, loyalty, segmentation, feedback)}
    loyalty.env.update(
        LOYALTY_PROFILE_FEED_URL=feed["profile"],
        LOYALTY_SEGMENTATION_FEED_URL=feed["segmentation"],
        LOYALTY_FEEDBACK_FEED_URL=feed["feedback"],
    )
    segmentation.env.update(
        SEGMENTATION_PROFILE_FEED_URL=feed["profile"],
        SEGMENTATION_LOYALTY_FEED_URL=feed["loyalty"],
        SEGMENTATION_FEEDBACK_FEED_URL=feed["feedback"],
    )
    feedback.env.update(FEEDBACK_PROFILE_FEED_URL=feed["profile"], FEEDBACK_SEGMENTATION_FEED_URL=feed["segmentation"])
    gateway = _process(
        "gateway",
        "gateway.app:create_app",
        tmp_path,
        GATEWAY_PROFILE_URL=profile.url,
        GATEWAY_SEGMENTATION_URL=segmentation.url,
        GATEWAY_FEEDBACK_URL=feedback.url,
        GATEWAY_LOYALTY_URL=loyalty.url,
        GATEWAY_OVERVIEW_BUDGET_SECONDS="10",  # a slow part must not turn into a `partial` here
    )
    procs = {p.name: p for p in (profile, loyalty, segmentation, feedback, gateway)}
    dbs = {name: Database(urls[name]) for name in CURSORS}
    try:
        for p in procs.values():
            p.spawn()
        for p in procs.values():
            p.wait_live()
        yield WholeSuite(procs, dbs)
    finally:
        for p in reversed(procs.values()):
            p.stop()
        for db in dbs.values():
            db.dispose()


def _heads(http: dict[str, httpx.Client], headers: dict[str, str]) -> dict[str, int]:
    heads = {}
    for owner in SERVICES:
        resp = http[owner].get("/v1/events", params={"after": 0, "limit": 1}, headers=headers)
        assert resp.status_code == 200, resp.text
        heads[owner] = resp.json()["head_position"]
    return heads


def _cursors(dbs: dict[str, Database]) -> dict[tuple[str, str], int]:
    found = {}
    for service, db in dbs.items():
        with db.read() as s:
            rows = {
                consumer: position
                for consumer, position in s.execute(text("SELECT consumer, position FROM consumer_cursor"))
            }
        for consumer in CURSORS[service]:
            found[(service, consumer)] = int(rows.get(consumer) or 0)
    return found


def drain(suite: WholeSuite, http: dict[str, httpx.Client], headers: dict[str, str]) -> dict[str, int]:
    """Waits until every consumer's cursor is at its owner's head and no head moved meanwhile (a
    consumer commits the events it causes with its cursor, so nothing is left in flight). Returns
    the heads; fails naming the laggards after DRAIN_DEADLINE."""
    deadline = time.monotonic() + DRAIN_DEADLINE
    behind: dict[str, tuple[int, int]] = {}
    while time.monotonic() < deadline:
        before = _heads(http, headers)
        cursors = _cursors(suite.dbs)
        after = _heads(http, headers)
        behind = {
            f"{service}:{consumer}": (position, after[CURSORS[service][consumer]])
            for (service, consumer), position in cursors.items()
            if position != after[CURSORS[service][consumer]]
        }
        if before == after and not behind:
            return after
        time.sleep(0.1)
    raise AssertionError(f"feeds not drained within {DRAIN_DEADLINE} s: (cursor, head) {behind}")


def ok(resp: httpx.Response, *status: int) -> dict:
    """The answer's JSON, once its status is one of `status` (fails naming the request otherwise)."""
    assert resp.status_code in status, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else {}


def until(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


def enrolled_customer(gw: httpx.Client, staff: dict[str, str], *, name: str, id_number: str, phone: str) -> str:
    """A customer registered through the gateway at branch BJ0001 who signed the loyalty programme,
    once loyalty has opened the account (from profile's feed). Returns the customer id."""
    body = {
        "type": "individual",
        "name": name,
        "resident_id": id_number,
        "phone": phone,
        "region_type": "urban",
        "province": "北京",
        "city": "北京",
        "branch_code": "BJ0001",
    }
    cid = ok(gw.post("/api/v1/customers", json=body, headers=staff), 201)["id"]
    agreement = {"agreement_type": "loyalty_programme", "version": "2026.1", "channel": "counter"}
    ok(gw.post(f"/api/v1/customers/{cid}/agreements", json=agreement, headers=staff), 201)
    until(lambda: gw.get(f"/api/v1/loyalty/accounts/{cid}", headers=staff).status_code == 200, "loyalty's account")
    return cid
