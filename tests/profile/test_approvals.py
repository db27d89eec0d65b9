"""Dual control in profile. A customer's erasure asked by a supervisor or admin waits for another, then
runs once in the maker's name; the customer's own request and the retention sweep do not wait. Past
the daily count a staff member's next reveal is a pending request, whose approval grants that maker one
reveal of that customer until the request's expiry. One pending per action and customer; requests
expire; each step on the feed and in the audit chain; every route's declared errors and roles."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from services.profile.app import create_app
from tests import dbkit
from tests.approvals_kit import (
    check_decisions,
    check_expiry,
    check_routes,
    race_approvals,
    steps_on_feed_and_chain,
)
from tests.clock import ManualClock
from tests.profile import factories as f
from tests.profile.conftest import ALEMBIC_INI, profile_settings

BASE = "/v1/customers/approvals"
ERASURE = {"reason": "PIPL art. 47 request at counter", "requested_via": "counter"}


@pytest.fixture
def clock(profile_app) -> ManualClock:
    profile_app.state.clock = ManualClock(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))  # 10:00 in Beijing
    return profile_app.state.clock


def _erase(client, auth, cid, sub="sup-1", role="supervisor"):
    return client.post(f"/v1/customers/{cid}/erasure-requests", json=ERASURE, headers=auth(role, sub=sub))


def _reveal(client, auth, cid, sub="sup-1"):
    return client.get(
        f"/v1/customers/{cid}/personal-data", params={"reason": "核实客户身份"}, headers=auth("supervisor", sub=sub)
    )


def test_erasure_asked_by_staff_waits_for_another_then_runs_once(client, auth, profile_app, clock):
    c = f.register(client, auth("staff"))
    asked = _erase(client, auth, c["id"])
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert (body["action"], body["why"], body["payload"]["requested_via"]) == ("customer.erase", "erasure", "counter")
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("staff")).json()["name"] == c["name"]
    own = client.post(f"{BASE}/{body['id']}/approve", headers=auth("supervisor", sub="sup-1"))
    assert own.status_code == 403 and own.json()["code"] == "maker_cannot_decide"
    done = client.post(f"{BASE}/{body['id']}/approve", headers=auth("admin", sub="root-1"))
    assert done.status_code == 200, done.text
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("staff")).json()["name"].startswith("ERASED-")
    listed = client.get(f"/v1/customers/{c['id']}/erasure-requests", headers=auth("admin")).json()["items"]
    assert [(r["requested_by_sub"], r["id"]) for r in listed] == [
        ("sup-1", done.json()["result"]["erasure_request_id"])
    ]
    steps, chain = steps_on_feed_and_chain(client, auth, profile_app, body["id"])
    assert steps == ["approval.requested", "approval.approved"]
    assert chain[-3:] == ["approval.requested", "personal_data.erased", "approval.approved"]
    events = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    assert [e["subject_id"] for e in events if e["type"] == "customer.erased"] == [c["id"]]
    again = _erase(client, auth, c["id"], sub="sup-2")
    assert again.status_code == 409 and again.json()["code"] == "customer_erased"


def test_the_customers_own_erasure_does_not_wait(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.post(f"/v1/customers/{c['id']}/erasure-requests", json=ERASURE, headers=auth("customer", sub=c["id"]))
    assert resp.status_code == 201


def test_one_pending_erasure_per_customer_and_checks_now(client, auth):
    c = f.register(client, auth("staff"))
    assert _erase(client, auth, c["id"]).status_code == 202
    second = _erase(client, auth, c["id"], sub="sup-2", role="admin")
    assert second.status_code == 409 and second.json()["code"] == "approval_pending"
    assert _erase(client, auth, "00000000-0000-4000-8000-0000000000cc").status_code == 404


def test_erasure_decisions_rejection_and_roles(client, auth, profile_app, clock):
    c = f.register(client, auth("staff"))
    pid = _erase(client, auth, c["id"]).json()["id"]
    check_routes(client, auth, BASE, pid)
    check_decisions(client, auth, BASE, pid, maker="sup-1")
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("staff")).json()["name"] == c["name"]
    other = f.register(client, auth("staff"))
    check_expiry(client, auth, profile_app, BASE, _erase(client, auth, other["id"]).json()["id"], clock, hours=72)


@pytest.fixture
def limited(profile_db):
    app = create_app(profile_settings(profile_db.url, reveal_daily_limit=2), db=profile_db)
    app.state.clock = ManualClock(datetime.now(UTC))  # reveals are logged at the time they happen
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


def test_reveals_past_the_daily_count_wait_and_an_approval_grants_one(limited, auth):
    app, client = limited
    a, b = (f.register(client, auth("staff"))["id"] for _ in range(2))
    assert [_reveal(client, auth, a).status_code for _ in range(2)] == [200, 200]
    asked = _reveal(client, auth, b)
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert (body["action"], body["why"], body["payload"]["fields"]) == (
        "customer.reveal", "over_daily_reveals", ["id_number", "phone", "email"]
    )  # fmt: skip
    assert _reveal(client, auth, b, sub="sup-2").status_code == 200  # another staff member's count
    again = _reveal(client, auth, b)
    assert again.status_code == 409 and again.json()["code"] == "approval_pending"
    done = client.post(f"{BASE}/{body['id']}/approve", headers=auth("supervisor", sub="sup-9"))
    assert done.status_code == 200 and done.json()["result"] is None  # granted, not used yet
    assert _reveal(client, auth, a).status_code == 202  # the grant is for b only
    shown = _reveal(client, auth, b)
    assert shown.status_code == 200 and "id_number" in shown.json()
    used = client.get(f"{BASE}/{body['id']}", headers=auth("staff")).json()["result"]
    assert set(used) == {"revealed_at"}
    assert _reveal(client, auth, b).status_code == 202  # once: the next one asks again
    app.state.clock.advance(days=1)
    assert _reveal(client, auth, a).status_code == 200  # a new day, a new count


def test_a_grant_lapses_with_its_request(limited, auth):
    app, client = limited
    # 00:05 on the bank's calendar today: the 9 hours below stay in one day, whose count of reveals holds
    # (from 15:00 on, they reached the next day, whose new count let the reveal through)
    bank_day = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=5, second=0, microsecond=0)
    app.state.clock.set(bank_day.astimezone(UTC))
    a = f.register(client, auth("staff"))["id"]
    for _ in range(2):
        _reveal(client, auth, a)
    pid = _reveal(client, auth, a).json()["id"]
    assert client.post(f"{BASE}/{pid}/approve", headers=auth("admin")).status_code == 200
    app.state.clock.advance(hours=9)  # the reveal's request lives 8 hours
    assert _reveal(client, auth, a).status_code == 202


def test_without_a_limit_reveals_never_wait(profile_db, auth):
    app = create_app(profile_settings(profile_db.url, reveal_daily_limit=0), db=profile_db)
    with TestClient(app, raise_server_exceptions=False) as client:
        a = f.register(client, auth("staff"))["id"]
        assert {_reveal(client, auth, a).status_code for _ in range(3)} == {200}


fresh_profile_db = dbkit.fresh_database_fixture("profile", "profile_sqlite_template", ALEMBIC_INI)


def test_racing_approvals_erase_once(fresh_profile_db, auth):
    app = create_app(profile_settings(fresh_profile_db.url), db=fresh_profile_db)
    with TestClient(app, raise_server_exceptions=False) as client:
        c = f.register(client, auth("staff"))
        pid = _erase(client, auth, c["id"]).json()["id"]
        assert race_approvals(app, fresh_profile_db, pid) == ["approval_decided"] * 5 + ["approved"]
        assert len(client.get(f"/v1/customers/{c['id']}/erasure-requests", headers=auth("admin")).json()["items"]) == 1
