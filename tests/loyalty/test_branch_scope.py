"""Branch scope in loyalty: a customer's branch is copied from profile's customer events; staff and
supervisors reach only their subtree's customers (404 beyond it, the body-named customer of an
enrolment or a registration included) and schedule events only there; a customer sees only the
customer events of its branch's line that are open and for everyone or a segment class it is in, and
the rewards redeemable now; a supervisor's
ledger check covers only the subtree's accounts. On both databases."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from services.loyalty.models import PointsAccount
from tests.loyalty import factories as f
from tests.organisation import place_customer

DAY = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)  # after the tests' clock (tests/loyalty/conftest.py)


def _event(client, auth, branch_code: str, starts_at: datetime = DAY, **extra) -> dict:
    body = {
        **extra,
        "title": f"lecture at {branch_code}",
        "category": "lecture",
        "branch_code": branch_code,
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
        "capacity": 5,
    }
    resp = client.post("/v1/loyalty/customer-events", json=body, headers=auth("admin"))
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_the_branch_copy_follows_profiles_customer_events(client, auth, loyalty_app):
    customer = f.enrol(client, auth)
    consumer = f.consumer(loyalty_app)
    consumer.apply([f.event("customer.registered", customer, f.registered("BJ0001"))])
    assert client.get(f"/v1/loyalty/accounts/{customer}", headers=auth("staff")).status_code == 200
    consumer.apply(
        [
            f.event(
                "customer.updated", customer, {"customer_no": "C1", "changed": ["branch_code"], "branch_code": "OT0001"}
            )
        ]
    )
    moved = client.get(f"/v1/loyalty/accounts/{customer}", headers=auth("staff"))
    assert (moved.status_code, moved.json()["code"]) == (404, "customer_not_found")
    assert client.get(f"/v1/loyalty/accounts/{customer}", headers=auth("staff", branch="CT0002")).status_code == 200
    assert client.get(f"/v1/loyalty/accounts/{customer}", headers=auth("admin")).status_code == 200


def test_a_customer_loyalty_does_not_know_is_out_of_every_staff_members_reach(client, auth):
    stranger = str(uuid.uuid4())
    resp = client.post("/v1/loyalty/accounts", json={"customer_id": stranger}, headers=auth("staff"))
    assert (resp.status_code, resp.json()["code"]) == (404, "customer_not_found")
    assert client.post("/v1/loyalty/accounts", json={"customer_id": stranger}, headers=auth("admin")).status_code == 201


def test_body_named_customers_out_of_branch_are_404(client, auth):
    theirs = str(uuid.uuid4())
    place_customer("loyalty", client.app.state.db, theirs, "OT0001")
    assert client.post("/v1/loyalty/accounts", json={"customer_id": theirs}, headers=auth("admin")).status_code == 201
    event = _event(client, auth, "HQ0001")
    registered = client.post(
        f"/v1/loyalty/customer-events/{event['id']}/registrations", json={"customer_id": theirs}, headers=auth("staff")
    )
    assert (registered.status_code, registered.json()["code"]) == (404, "customer_not_found")
    reward = f.reward(client, auth)
    redeemed = f.redeem(client, auth("staff"), theirs, reward["id"])
    assert (redeemed.status_code, redeemed.json()["code"]) == (404, "customer_not_found")


def test_supervisors_schedule_events_only_within_their_subtree(client, auth):
    body = {
        "title": "lecture",
        "category": "lecture",
        "branch_code": "OT0001",
        "starts_at": DAY.isoformat(),
        "ends_at": (DAY + timedelta(hours=1)).isoformat(),
        "capacity": 5,
    }
    resp = client.post("/v1/loyalty/customer-events", json=body, headers=auth("supervisor"))
    assert resp.status_code == 422
    assert [(e["loc"], e["type"]) for e in resp.json()["errors"]] == [(["body", "branch_code"], "out_of_reach")]


def test_a_customer_sees_the_open_events_of_its_branchs_line(client, auth, clock):
    outlet, city, head_office, elsewhere = (_event(client, auth, b) for b in ("BJ0001", "BR0001", "HQ0001", "OT0001"))
    started = _event(client, auth, "BJ0001", starts_at=clock() + timedelta(hours=1))
    clock.advance(hours=2)
    customer = f.enrol(client, auth)  # of BJ0001, below BR0001, below TP0001, below HQ0001
    me = auth("customer", sub=customer)
    listed = {e["id"] for e in client.get("/v1/loyalty/customer-events", headers=me).json()["items"]}
    assert listed == {outlet["id"], city["id"], head_office["id"]}
    for hidden in (elsewhere, started):
        resp = client.get(f"/v1/loyalty/customer-events/{hidden['id']}", headers=me)
        assert (resp.status_code, resp.json()["code"]) == (404, "event_not_found")
        registered = client.post(
            f"/v1/loyalty/customer-events/{hidden['id']}/registrations", json={"customer_id": customer}, headers=me
        )
        assert registered.status_code == 404
    assert client.get(f"/v1/loyalty/customer-events/{head_office['id']}", headers=me).status_code == 200
    staff = {e["id"] for e in client.get("/v1/loyalty/customer-events", headers=auth("staff")).json()["items"]}
    assert staff == {outlet["id"], city["id"], head_office["id"], started["id"]}
    admin = {e["id"] for e in client.get("/v1/loyalty/customer-events", headers=auth("admin")).json()["items"]}
    assert {elsewhere["id"], started["id"]} <= admin
    stranger = auth("customer", sub=str(uuid.uuid4()))  # not yet on profile's feed: no line, no event
    assert client.get("/v1/loyalty/customer-events", headers=stranger).json()["items"] == []


def test_a_customer_sees_only_the_rewards_redeemable_now(client, auth, clock):
    active = f.reward(client, auth)
    later = f.reward(client, auth, active_from=(clock() + timedelta(days=10)).isoformat())
    ended = f.reward(client, auth, active_until=(clock() + timedelta(days=1)).isoformat())
    clock.advance(days=2)
    me = auth("customer", sub=f.enrol(client, auth))
    params = {"available_only": "false", "limit": 200}
    listed = {r["id"] for r in client.get("/v1/loyalty/rewards", params=params, headers=me).json()["items"]}
    assert active["id"] in listed and not listed & {later["id"], ended["id"]}
    for hidden in (later, ended):
        resp = client.get(f"/v1/loyalty/rewards/{hidden['id']}", headers=me)
        assert (resp.status_code, resp.json()["code"]) == (404, "reward_not_found")
    staff = {r["id"] for r in client.get("/v1/loyalty/rewards", params=params, headers=auth("staff")).json()["items"]}
    assert {active["id"], later["id"], ended["id"]} <= staff
    assert client.get(f"/v1/loyalty/rewards/{later['id']}", headers=auth("staff")).status_code == 200


def _tamper(client, customer_id: str) -> None:
    with client.app.state.db.write() as s:
        s.execute(update(PointsAccount).where(PointsAccount.customer_id == uuid.UUID(customer_id)).values(balance=999))
        s.commit()


def test_a_supervisors_ledger_check_covers_only_the_subtree(client, auth):
    ours, theirs = f.funded(client, auth, 100), str(uuid.uuid4())
    place_customer("loyalty", client.app.state.db, theirs, "OT0001")
    assert client.post("/v1/loyalty/accounts", json={"customer_id": theirs}, headers=auth("admin")).status_code == 201
    for customer in (ours, theirs):
        _tamper(client, customer)

    def check(headers) -> tuple[int, set[str]]:
        resp = client.post("/v1/loyalty/ledger-checks", headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()["accounts_checked"], {m["customer_id"] for m in resp.json()["mismatches"]}

    assert check(auth("supervisor")) == (1, {ours})
    assert check(auth("supervisor", branch="CT0002")) == (1, {theirs})
    assert check(auth("supervisor", branch=None)) == (0, set())
    assert "loyalty_ledger_mismatched_accounts 0.0" in client.get("/metrics").text  # a subtree's check sets no gauge
    for bank_wide in (auth("admin"), auth("system")):
        assert check(bank_wide) == (2, {ours, theirs})
    assert "loyalty_ledger_mismatched_accounts 2.0" in client.get("/metrics").text


def _in_class(loyalty_app, customer: str, scheme: str, cls: str) -> None:
    changed = {"scheme": scheme, "from_class": None, "to_class": cls, "changed_at": "2026-03-01T00:00:00Z"}
    f.consumer(loyalty_app, "segmentation").apply([f.event("segment.changed", customer, changed)])


def test_a_customer_sees_only_the_events_for_everyone_or_its_segments(client, auth, loyalty_app):
    for_all = _event(client, auth, "BJ0001")
    for_mine = _event(client, auth, "BJ0001", target_segments=["asset_size:mid_high", "region:rural"])
    for_others = _event(client, auth, "HQ0001", target_segments=["asset_size:major", "behaviour:dormant"])
    customer = f.enrol(client, auth)  # of BJ0001
    _in_class(loyalty_app, customer, "asset_size", "mid_high")
    _in_class(loyalty_app, customer, "behaviour", "active")
    me = auth("customer", sub=customer)

    def listed(headers, **params) -> list[str]:
        resp = client.get("/v1/loyalty/customer-events", params=params, headers=headers)
        assert resp.status_code == 200, resp.text
        return [e["id"] for e in resp.json()["items"]]

    assert set(listed(me)) == {for_all["id"], for_mine["id"]}
    first = client.get("/v1/loyalty/customer-events", params={"limit": 1}, headers=me).json()
    rest = listed(me, limit=5, cursor=first["next_cursor"])
    assert len(first["items"]) == 1 and {first["items"][0]["id"], *rest} == {for_all["id"], for_mine["id"]}
    hidden = client.get(f"/v1/loyalty/customer-events/{for_others['id']}", headers=me)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "event_not_found")
    assert client.get(f"/v1/loyalty/customer-events/{for_mine['id']}", headers=me).status_code == 200
    registrations = f"/v1/loyalty/customer-events/{for_others['id']}/registrations"
    refused = client.post(registrations, json={"customer_id": customer}, headers=me)
    assert (refused.status_code, refused.json()["code"]) == (404, "event_not_found")  # as on read
    by_staff = client.post(registrations, json={"customer_id": customer}, headers=auth("staff"))
    assert (by_staff.status_code, by_staff.json()["code"]) == (409, "event_not_eligible")
    for everyone in (auth("staff"), auth("admin")):
        assert {for_all["id"], for_mine["id"], for_others["id"]} <= set(listed(everyone))
    _in_class(loyalty_app, customer, "asset_size", "major")  # moved up: the other event is its now
    assert set(listed(me)) == {for_all["id"], for_others["id"]}
    assert client.post(registrations, json={"customer_id": customer}, headers=me).status_code == 201
