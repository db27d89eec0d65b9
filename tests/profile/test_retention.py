"""The retention sweep: a customer closed longer ago than the retention period is erased by the
scheduled job (through its runner, with an injected clock), as a request would erase them; younger
closures and open customers are left alone."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.common.retention import years_before
from services.profile.models import Customer
from services.profile.service.jobs import build_jobs
from tests.clock import ManualClock
from tests.profile import factories as f
from tests.profile.conftest import profile_settings


@pytest.fixture
def people(client, auth):
    staff = auth("staff")
    closed, recent, open_ = (f.register(client, staff, f.individual(name=n)) for n in ("关闭久", "关闭新", "仍开户"))
    for c in (closed, recent):
        assert client.post(f"/v1/customers/{c['id']}/close", headers=staff).status_code == 200
    return closed, recent, open_


def test_the_sweep_erases_customers_closed_longer_than_the_retention(client, auth, profile_app, people):
    closed, recent, open_ = people
    db, privacy = profile_app.state.db, profile_app.state.privacy
    settings = profile_settings(db.url, retention_closed_customer_years=10, job_retention_sweep_schedule="15 2 * * *")
    clock = ManualClock(datetime.now(UTC))
    runner = build_jobs(settings, db, privacy, clock, profile_app.state.approvals)
    assert runner.tick() == []  # a new installation starts with the next window
    # the recent one was "closed" nine years later than the old one: move the old one's closure back
    with db.write() as s:
        s.get(Customer, uuid.UUID(closed["id"])).closed_at = years_before(clock.now, 10) - timedelta(days=2)
        s.get(Customer, uuid.UUID(recent["id"])).closed_at = years_before(clock.now, 10) + timedelta(days=2)
        s.commit()
    clock.now += timedelta(days=1)
    assert "retention_sweep" in runner.tick()  # with month_partitions and the approvals' expiry, also due
    assert runner.tick() == []  # once per window

    supervisor = auth("supervisor")
    gone = client.get(f"/v1/customers/{closed['id']}", headers=supervisor).json()
    assert gone["name"].startswith("ERASED-") and gone["status"] == "closed"
    requests = client.get(f"/v1/customers/{closed['id']}/erasure-requests", headers=supervisor).json()["items"]
    assert [(r["requested_via"], r["requested_by_sub"]) for r in requests] == [("retention", "profile-retention-sweep")]
    for kept in (recent, open_):
        assert client.get(f"/v1/customers/{kept['id']}", headers=supervisor).json()["name"] == kept["name"]
    events = client.get("/v1/events", headers=auth("system")).json()["items"]
    assert [e["subject_id"] for e in events if e["type"] == "customer.erased"] == [closed["id"]]

    clock.now += timedelta(days=5)  # the next windows find the other one past its period too
    assert "retention_sweep" in runner.tick()  # with month_partitions and the approvals' expiry, also due
    assert client.get(f"/v1/customers/{recent['id']}", headers=supervisor).json()["name"].startswith("ERASED-")
    assert client.get(f"/v1/customers/{open_['id']}", headers=supervisor).json()["status"] == "active"


def test_years_before_counts_calendar_years():
    assert years_before(datetime(2026, 3, 1, 8, tzinfo=UTC), 10) == datetime(2016, 3, 1, 8, tzinfo=UTC)
    assert years_before(datetime(2028, 2, 29, tzinfo=UTC), 1) == datetime(2027, 2, 28, tzinfo=UTC)
