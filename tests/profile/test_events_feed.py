"""The customer event feed: ordered, replayable from any position, system role, no personal data."""

import pytest

from tests.profile import factories as f


def test_feed_lists_events_in_order_and_replays_from_any_position(client, auth):
    bodies = [f.individual() for _ in range(4)]
    ids = [f.register(client, auth("staff"), b)["id"] for b in bodies]
    client.post(f"/v1/customers/{ids[0]}/close", headers=auth("staff"))
    page = client.get("/v1/events", headers=auth("system")).json()
    events = page["items"]
    assert [e["type"] for e in events] == ["customer.registered"] * 4 + ["customer.closed"]
    assert [e["subject_id"] for e in events] == [*ids, ids[0]]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and page["last_position"] == positions[-1] == page["head_position"]
    assert len({e["event_id"] for e in events}) == 5
    for i, pos in enumerate(positions):
        replay = client.get("/v1/events", params={"after": pos}, headers=auth("system")).json()["items"]
        assert replay == events[i + 1 :]
    text = str(events)
    for b in bodies:
        assert b["resident_id"] not in text and b["phone"] not in text and b["email"] not in text


def test_feed_pages_with_limit(client, auth):
    for _ in range(3):
        f.register(client, auth("staff"))
    first = client.get("/v1/events", params={"limit": 2}, headers=auth("system")).json()
    assert len(first["items"]) == 2 and first["head_position"] > first["last_position"]
    rest = client.get("/v1/events", params={"after": first["last_position"]}, headers=auth("system")).json()
    assert len(rest["items"]) == 1
    empty = client.get("/v1/events", params={"after": rest["last_position"]}, headers=auth("system")).json()
    assert empty["items"] == [] and empty["last_position"] == rest["last_position"]


def test_registered_event_carries_what_consumers_need(client, auth):
    c = f.register(client, auth("staff"), f.individual(region_type="rural", branch_code="GZ0009"))
    event = client.get("/v1/events", headers=auth("system")).json()["items"][0]
    assert event["data"] == {
        "customer_no": c["customer_no"],
        "type": "individual",
        "region_type": "rural",
        "province": "北京",
        "city": "北京",
        "branch_code": "GZ0009",
        "status": "active",
    }
    assert event["occurred_at"].endswith("Z")


@pytest.mark.parametrize(
    "params, field",
    [({"after": -1}, "after"), ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"after": "x"}, "after")],
)
def test_feed_bad_parameter_is_422(client, auth, params, field):
    resp = client.get("/v1/events", params=params, headers=auth("system"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", field]


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor"])
def test_feed_for_non_system_role_is_403(client, auth, role):
    assert client.get("/v1/events", headers=auth(role)).status_code == 403


def test_feed_without_token_is_401(client):
    assert client.get("/v1/events").status_code == 401
