"""Customer events: scheduling, registration against capacity with a waitlist, cancellation that
promotes the first waiting, check-in on the day with attendance points, listings."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY
from tests.organisation import place_customer

DAY = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)  # 14:00 in Beijing


def _event(client, auth, **overrides) -> dict:
    body = {
        "title": "Wealth lecture",
        "category": "lecture",
        "branch_code": "BJ0001",
        "starts_at": DAY.isoformat(),
        "ends_at": (DAY + timedelta(hours=2)).isoformat(),
        "capacity": 2,
        "points_price": 0,
        "attendance_points": 50,
    }
    body.update(overrides)
    resp = client.post("/v1/loyalty/customer-events", json=body, headers=auth("supervisor"))
    assert resp.status_code == 201, resp.text
    return resp.json()


def _register(client, auth, event_id, cid, role="staff"):
    place_customer("loyalty", client.app.state.db, cid)  # in the staff token's branch
    headers = auth("customer", sub=cid) if role == "customer" else auth(role)
    return client.post(
        f"/v1/loyalty/customer-events/{event_id}/registrations", json={"customer_id": cid}, headers=headers
    )


def test_schedule_event_and_read_it(client, auth, loyalty_app):
    event = _event(client, auth, target_segments=["asset_size:major"])
    assert event["seats_taken"] == 0 and event["status"] == "scheduled"
    cid = str(uuid.uuid4())
    place_customer("loyalty", client.app.state.db, cid)  # a customer of the event's branch
    changed = {"scheme": "asset_size", "from_class": None, "to_class": "major", "changed_at": "2026-03-01T00:00:00Z"}
    f.consumer(loyalty_app, "segmentation").apply([f.event("segment.changed", cid, changed)])  # and of its segment
    read = client.get(f"/v1/loyalty/customer-events/{event['id']}", headers=auth("customer", sub=cid))
    assert read.status_code == 200 and read.json() == event
    assert client.get(f"/v1/loyalty/customer-events/{uuid.uuid4()}", headers=auth("staff")).status_code == 404


@SQLITE_ONLY
@pytest.mark.parametrize(
    "change, field",
    [
        ({"ends_at": DAY.isoformat()}, "ends_at"),
        ({"capacity": 0}, "capacity"),
        ({"category": "party"}, "category"),
        ({"branch_code": "bj"}, "branch_code"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"points_price": -1}, "points_price"),
        ({"title": ""}, "title"),
    ],
)
def test_schedule_event_bad_input_is_422(client, auth, change, field):
    body = {
        "title": "Talk",
        "category": "health_talk",
        "branch_code": "BJ0001",
        "starts_at": DAY.isoformat(),
        "ends_at": (DAY + timedelta(hours=1)).isoformat(),
        "capacity": 5,
        **change,
    }
    resp = client.post("/v1/loyalty/customer-events", json=body, headers=auth("supervisor"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][:2] == ["body", field]


@SQLITE_ONLY
@pytest.mark.parametrize("role", ["staff", "customer", "system"])
def test_schedule_event_as_non_supervisor_is_403(client, auth, role):
    resp = client.post(
        "/v1/loyalty/customer-events",
        headers=auth(role),
        json={
            "title": "x",
            "category": "other",
            "branch_code": "BJ0001",
            "starts_at": DAY.isoformat(),
            "ends_at": (DAY + timedelta(hours=1)).isoformat(),
            "capacity": 1,
        },
    )
    assert resp.status_code == 403


def test_capacity_waitlist_and_cancellation_promotes_the_first_waiting(client, auth):
    event = _event(client, auth, capacity=2)
    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))
    statuses = [_register(client, auth, event["id"], x).json()["status"] for x in (a, b, c)]
    assert statuses == ["registered", "registered", "waitlisted"]
    assert _register(client, auth, event["id"], d, role="customer").json()["status"] == "waitlisted"
    again = _register(client, auth, event["id"], a)
    assert again.status_code == 409 and again.json()["code"] == "already_registered"
    resp = client.post(
        f"/v1/loyalty/customer-events/{event['id']}/registrations/{a}/cancel", headers=auth("customer", sub=a)
    )
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    mine = client.get(f"/v1/loyalty/accounts/{c}/event-registrations", headers=auth("customer", sub=c)).json()
    assert [(r["status"], r["event"]["id"]) for r in mine["items"]] == [("registered", event["id"])]
    assert client.get(f"/v1/loyalty/customer-events/{event['id']}", headers=auth("staff")).json()["seats_taken"] == 2
    cancelled = client.post(
        f"/v1/loyalty/customer-events/{event['id']}/registrations/{a}/cancel", headers=auth("staff")
    )
    assert cancelled.status_code == 409 and cancelled.json()["code"] == "registration_cancelled"
    assert _register(client, auth, event["id"], a).json()["status"] == "waitlisted"  # back of the queue


def test_points_price_is_charged_for_a_seat_and_refunded_on_cancel(client, auth):
    event = _event(client, auth, capacity=1, points_price=80)
    rich, poor, waiting = f.funded(client, auth, 100), f.funded(client, auth, 10), f.funded(client, auth, 100)
    assert _register(client, auth, event["id"], rich).json()["status"] == "registered"
    assert f.balance(client, auth, rich) == 20
    assert _register(client, auth, event["id"], poor).json()["status"] == "waitlisted"  # not charged
    assert _register(client, auth, event["id"], waiting).json()["status"] == "waitlisted"
    client.post(f"/v1/loyalty/customer-events/{event['id']}/registrations/{rich}/cancel", headers=auth("staff"))
    assert f.balance(client, auth, rich) == 100
    # the first waiting cannot pay, so the seat goes to the next one, who is charged
    regs = {
        cid: client.get(f"/v1/loyalty/accounts/{cid}/event-registrations", headers=auth("staff")).json()["items"][0][
            "status"
        ]
        for cid in (poor, waiting)
    }
    assert regs == {poor: "waitlisted", waiting: "registered"} and f.balance(client, auth, waiting) == 20
    unfunded = _register(client, auth, _event(client, auth, points_price=500)["id"], poor)
    assert unfunded.status_code == 409 and unfunded.json()["code"] == "points_insufficient"
    no_account = _register(client, auth, _event(client, auth, points_price=5)["id"], str(uuid.uuid4()))
    assert no_account.status_code == 404 and no_account.json()["code"] == "account_not_found"


def test_check_in_on_the_day_earns_attendance_points_once(client, auth, clock):
    event = _event(client, auth, attendance_points=50)
    cid = f.enrol(client, auth)
    _register(client, auth, event["id"], cid)
    url = f"/v1/loyalty/customer-events/{event['id']}/registrations/{cid}/check-in"
    early = client.post(url, headers=auth("staff"))
    assert early.status_code == 409 and early.json()["code"] == "check_in_closed"
    clock.set(DAY - timedelta(hours=3))  # the same day in Beijing
    resp = client.post(url, headers=auth("staff"))
    assert resp.status_code == 200 and resp.json()["status"] == "attended"
    assert f.balance(client, auth, cid) == 50
    again = client.post(url, headers=auth("staff"))
    assert again.status_code == 409 and again.json()["code"] == "already_checked_in"
    top = client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"][0]
    assert (top["source"], top["source_ref"]) == ("event_attendance", event["id"])
    late = client.post(f"/v1/loyalty/customer-events/{event['id']}/registrations/{cid}/cancel", headers=auth("staff"))
    assert late.status_code == 409 and late.json()["code"] == "event_closed"


def test_check_in_refusals_and_roles(client, auth, clock):
    event = _event(client, auth, capacity=1)
    seated, waiting = str(uuid.uuid4()), str(uuid.uuid4())
    _register(client, auth, event["id"], seated)
    _register(client, auth, event["id"], waiting)
    clock.set(DAY)
    base = f"/v1/loyalty/customer-events/{event['id']}/registrations"
    resp = client.post(f"{base}/{waiting}/check-in", headers=auth("staff"))
    assert resp.status_code == 409 and resp.json()["code"] == "registration_not_seated"
    assert client.post(f"{base}/{uuid.uuid4()}/check-in", headers=auth("staff")).status_code == 404
    assert client.post(f"{base}/{seated}/check-in", headers=auth("customer", sub=seated)).status_code == 403
    assert client.post(f"{base}/{seated}/check-in").status_code == 401
    resp = _register(client, auth, event["id"], str(uuid.uuid4()))
    assert resp.status_code == 409 and resp.json()["code"] == "event_closed"  # it has started


def test_register_refusals(client, auth, loyalty_app):
    event = _event(client, auth, target_segments=["asset_size:major"])
    cid = str(uuid.uuid4())
    resp = _register(client, auth, event["id"], cid)
    assert resp.status_code == 409 and resp.json()["code"] == "event_not_eligible"
    f.consumer(loyalty_app, "segmentation").apply(
        [
            f.event(
                "segment.changed",
                cid,
                {"scheme": "asset_size", "from_class": None, "to_class": "major", "changed_at": "2026-03-01T00:00:00Z"},
            )
        ]
    )
    assert _register(client, auth, event["id"], cid).status_code == 201
    other = str(uuid.uuid4())
    assert _register(client, auth, str(uuid.uuid4()), other).status_code == 404
    resp = client.post(
        f"/v1/loyalty/customer-events/{event['id']}/registrations",
        json={"customer_id": other},
        headers=auth("customer", sub=cid),
    )
    assert resp.status_code == 404  # a customer registers only itself
    assert _register(client, auth, event["id"], other, role="system").status_code == 403
    resp = client.post(f"/v1/loyalty/customer-events/{event['id']}/registrations", json={}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "customer_id"]
    resp = client.post(f"/v1/loyalty/customer-events/{event['id']}/registrations/{other}/cancel", headers=auth("staff"))
    assert resp.status_code == 404 and resp.json()["code"] == "registration_not_found"


def test_list_events_for_a_branch_by_start(client, auth):
    later = _event(
        client,
        auth,
        starts_at=(DAY + timedelta(days=2)).isoformat(),
        ends_at=(DAY + timedelta(days=2, hours=1)).isoformat(),
    )
    first = _event(client, auth)
    _event(client, auth, branch_code="SH0001")
    cid = str(uuid.uuid4())
    place_customer("loyalty", client.app.state.db, cid)  # a customer of BJ0001
    page = client.get(
        "/v1/loyalty/customer-events", params={"branch_code": "BJ0001", "limit": 1}, headers=auth("customer", sub=cid)
    ).json()
    assert [e["id"] for e in page["items"]] == [first["id"]]
    rest = client.get(
        "/v1/loyalty/customer-events",
        params={"branch_code": "BJ0001", "cursor": page["next_cursor"]},
        headers=auth("staff"),
    ).json()
    assert [e["id"] for e in rest["items"]] == [later["id"]] and rest["next_cursor"] is None
    resp = client.get(
        "/v1/loyalty/customer-events", params={"starts_after": "2026-03-21T00:00:00"}, headers=auth("staff")
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "starts_after"]
    assert client.get("/v1/loyalty/customer-events").status_code == 401
