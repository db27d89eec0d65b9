"""Care tasks on both databases: reminders from profile's feed become tasks for the customer's
relationship manager (and, but for dormancy, notifications) once per occasion, follow the customer to a
new manager, are listed within the caller's branch subtree soonest due first and closed by staff; the
care_reminders job (injected clock) reminds of points expiring within 30 days and of events, once."""

import uuid
from datetime import UTC, datetime

import pytest

from tests.loyalty import care_kit as k
from tests.loyalty import factories as f


@pytest.fixture
def tree(loyalty_app):
    f.consumer(loyalty_app).apply(k.tree_events())


def _tasks(client, auth, role="staff", **params):
    sub = params.pop("sub", None)
    return client.get("/v1/loyalty/care-tasks", params=params, headers=auth(role, sub=sub))


def test_reminders_become_the_managers_tasks_once_and_follow_a_reassignment(client, auth, loyalty_app, tree):
    cid = str(uuid.uuid4())
    feed = f.consumer(loyalty_app)
    feed.apply([k.registered(cid), k.manager(cid, "rm-1"), k.app_push(cid)])
    due = [
        k.reminder(cid, "risk_expiry", "2026-03-30", reference=str(uuid.uuid4())),
        k.reminder(cid, "birthday", "2026-03-15"),
        k.reminder(cid, "dormant", "2026-03-10"),
    ]
    feed.apply(due)
    feed.apply(due)  # the same occasions again: nothing new
    mine = _tasks(client, auth, sub="rm-1", mine="true").json()["items"]
    assert [(t["kind"], t["manager_id"], t["branch_code"]) for t in mine] == [
        ("dormant", "rm-1", "BJ0001"),
        ("birthday", "rm-1", "BJ0001"),
        ("risk_expiry", "rm-1", "BJ0001"),
    ]
    assert mine[2]["due_at"] == "2026-03-30T01:00:00Z"  # 09:00 on the day in Beijing
    inbox = client.get("/v1/loyalty/notifications", headers=auth("customer", sub=cid)).json()["items"]
    assert sorted(n["kind"] for n in inbox) == ["birthday", "risk_expiry"]  # a dormant customer is not told
    assert {n["push_state"] for n in inbox} == {"pending"}
    assert "2026-03-30" in next(n["body"] for n in inbox if n["kind"] == "risk_expiry")

    feed.apply([k.manager(cid, "rm-2", previous="rm-1")])
    assert _tasks(client, auth, sub="rm-1", mine="true").json()["items"] == []
    assert len(_tasks(client, auth, sub="rm-2", mine="true").json()["items"]) == 3


def test_a_reminder_before_any_manager_waits_unassigned_then_goes_to_the_first(client, auth, loyalty_app, tree):
    cid = str(uuid.uuid4())
    feed = f.consumer(loyalty_app)
    feed.apply([k.reminder(cid, "deposit_maturity", "2026-04-01", reference=str(uuid.uuid4()))])
    [task] = _tasks(client, auth).json()["items"]
    assert (task["manager_id"], task["branch_code"]) == (None, "BJ0001")  # the branch the reminder named
    feed.apply([k.registered(cid, branch="BJ0002"), k.manager(cid, "rm-9")])
    [task] = _tasks(client, auth, sub="rm-9", mine="true").json()["items"]
    assert (task["manager_id"], task["branch_code"]) == ("rm-9", "BJ0002")


def test_tasks_are_seen_and_closed_within_the_callers_subtree(client, auth, loyalty_app, tree):
    here, there = str(uuid.uuid4()), str(uuid.uuid4())
    f.consumer(loyalty_app).apply(
        [
            k.registered(there, branch="BR0002"),
            k.reminder(here, "agreement_renewal", "2026-03-20", reference="a-1"),
            k.reminder(there, "agreement_renewal", "2026-03-21", reference="a-2", branch="BR0002"),
        ]
    )
    mine = _tasks(client, auth).json()["items"]  # BR0001 staff
    assert [t["customer_id"] for t in mine] == [here]
    assert [t["customer_id"] for t in _tasks(client, auth, "admin").json()["items"]] == [here, there]
    far = client.get("/v1/loyalty/care-tasks", headers=auth("staff", branch="CT0002")).json()["items"]
    assert [t["customer_id"] for t in far] == [there]
    assert [t["customer_id"] for t in _tasks(client, auth, "admin", customer_id=there).json()["items"]] == [there]
    task_id, far_id = mine[0]["id"], far[0]["id"]

    refused = client.post(
        f"/v1/loyalty/care-tasks/{far_id}/close", json={"outcome": "completed"}, headers=auth("staff")
    )
    assert refused.status_code == 404 and refused.json()["code"] == "care_task_not_found"
    done = client.post(
        f"/v1/loyalty/care-tasks/{task_id}/close",
        json={"outcome": "completed", "note": "called, renewed"},
        headers=auth("staff", sub="rm-1"),
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["closed_by"], done.json()["note"]) == (
        "completed",
        "rm-1",
        "called, renewed",
    )
    again = client.post(f"/v1/loyalty/care-tasks/{task_id}/close", json={"outcome": "dismissed"}, headers=auth("staff"))
    assert again.status_code == 409 and again.json()["code"] == "care_task_closed"
    assert _tasks(client, auth).json()["items"] == []  # open ones by default
    assert [t["status"] for t in _tasks(client, auth, status="completed").json()["items"]] == ["completed"]
    dismissed = client.post(
        f"/v1/loyalty/care-tasks/{far_id}/close",
        json={"outcome": "dismissed"},
        headers=auth("supervisor", branch="CT0002"),
    )
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"


def test_care_task_routes_refuse_what_is_wrong(client, auth, loyalty_app, tree):
    f.consumer(loyalty_app).apply([k.reminder(str(uuid.uuid4()), "birthday", "2026-03-12")])
    [task] = _tasks(client, auth).json()["items"]
    url = f"/v1/loyalty/care-tasks/{task['id']}/close"
    for role in ("customer", "system"):
        assert client.get("/v1/loyalty/care-tasks", headers=auth(role)).status_code == 403, role
        assert client.post(url, json={"outcome": "completed"}, headers=auth(role)).status_code == 403, role
    assert client.get("/v1/loyalty/care-tasks").status_code == 401
    assert client.post(url, json={"outcome": "completed"}).status_code == 401
    for body in ({"outcome": "done"}, {"outcome": "completed", "note": "x" * 501}, {"outcome": "completed", "x": 1}):
        assert client.post(url, json=body, headers=auth("staff")).status_code == 422, body
    assert _tasks(client, auth, status="later").status_code == 422
    assert _tasks(client, auth, cursor="junk").status_code == 422
    missing = client.post(
        f"/v1/loyalty/care-tasks/{uuid.uuid4()}/close", json={"outcome": "completed"}, headers=auth("staff")
    )
    assert missing.status_code == 404


def test_the_job_reminds_of_points_expiring_within_30_days_and_of_events_once(client, auth, loyalty_app, clock, tree):
    cid = f.enrol(client, auth)
    f.consumer(loyalty_app).apply([k.registered(cid), k.manager(cid, "rm-1")])
    f.give(client, auth, cid, 300)  # earned 10 March 2026: expires 1 April 2027 (Beijing)
    event = client.post(
        "/v1/loyalty/customer-events",
        json={
            "title": "理财讲座",
            "category": "lecture",
            "branch_code": "BJ0001",
            "starts_at": "2027-03-20T06:00:00Z",
            "ends_at": "2027-03-20T08:00:00Z",
            "capacity": 5,
        },
        headers=auth("supervisor"),
    ).json()
    registered = client.post(
        f"/v1/loyalty/customer-events/{event['id']}/registrations", json={"customer_id": cid}, headers=auth("staff")
    )
    assert registered.status_code == 201, registered.text
    runner = loyalty_app.state.jobs

    clock.set(datetime(2027, 2, 20, 2, tzinfo=UTC))  # 40 days before expiry, a month before the event
    assert runner.run_now("care_reminders", force=True)
    assert _tasks(client, auth, sub="rm-1", mine="true").json()["items"] == []

    clock.set(datetime(2027, 3, 19, 2, tzinfo=UTC))  # 13 days before expiry, a day before the event
    assert runner.run_now("care_reminders", force=True)
    clock.advance(hours=6)
    assert runner.run_now("care_reminders", force=True)  # again: the same occasions, nothing new
    [task] = _tasks(client, auth, sub="rm-1", mine="true").json()["items"]
    assert (task["kind"], task["due_at"]) == ("points_expiring", "2027-03-31T16:00:00Z")
    inbox = client.get("/v1/loyalty/notifications", headers=auth("customer", sub=cid)).json()["items"]
    assert sorted(n["kind"] for n in inbox) == ["event_reminder", "points_expiring"]
    points = next(n for n in inbox if n["kind"] == "points_expiring")
    assert "300" in points["body"] and points["data"]["points"] == 300
    reminder = next(n for n in inbox if n["kind"] == "event_reminder")
    assert "理财讲座" in reminder["body"] and "2027-03-20 14:00" in reminder["body"]
