"""The interaction log: staff record contacts; newest first; filters; size cap; staff only."""

import uuid
from datetime import UTC, datetime

import pytest

from tests.dbkit import stored_in_clear
from tests.profile import factories as f

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(profile_app):
    profile_app.state.clock = lambda: NOW


@pytest.fixture
def customer(client, auth):
    return f.register(client, auth("staff"))


def _log(client, headers, cid, **overrides):
    body = {"channel": "phone", "direction": "outbound", "topic": "定期存款到期", "summary": "Called about renewal.\n"}
    return client.post(f"/v1/customers/{cid}/interactions", json={**body, **overrides}, headers=headers)


def _list(client, auth, cid, **params):
    resp = client.get(f"/v1/customers/{cid}/interactions", params=params, headers=auth("staff"))
    assert resp.status_code == 200
    return resp.json()


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_staff_role_records_an_interaction(client, auth, customer, role):
    resp = _log(client, auth(role, sub="emp-0042", branch="BR0001"), customer["id"])
    assert resp.status_code == 201
    i = resp.json()
    assert (i["staff_id"], i["branch_code"], i["occurred_at"], i["channel"]) == (
        "emp-0042",
        "BR0001",
        "2026-11-28T12:00:00Z",
        "phone",
    )
    assert _list(client, auth, customer["id"])["items"] == [i]


def test_list_is_newest_first_and_filters_by_channel_and_time(client, auth, customer):
    for day, channel in (("01", "counter"), ("05", "sms"), ("09", "counter"), ("12", "visit")):
        _log(client, auth("staff"), customer["id"], channel=channel, occurred_at=f"2026-11-{day}T09:00:00Z")
    days = lambda page: [i["occurred_at"][8:10] for i in page["items"]]  # noqa: E731
    assert days(_list(client, auth, customer["id"])) == ["12", "09", "05", "01"]
    assert days(_list(client, auth, customer["id"], channel="counter")) == ["09", "01"]
    window = {"from": "2026-11-05T09:00:00Z", "to": "2026-11-12T09:00:00Z"}
    assert days(_list(client, auth, customer["id"], **window)) == ["09", "05"]
    first = _list(client, auth, customer["id"], limit=3)
    assert days(_list(client, auth, customer["id"], cursor=first["next_cursor"])) == ["01"]


def test_branch_in_body_wins_and_closed_customer_still_logs(client, auth, customer):
    client.post(f"/v1/customers/{customer['id']}/close", headers=auth("staff"))
    resp = _log(client, auth("staff", branch="BR0001"), customer["id"], branch_code="GZ0009")
    assert resp.status_code == 201 and resp.json()["branch_code"] == "GZ0009"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"channel": "fax"}, "channel"),
        ({"direction": "sideways"}, "direction"),
        ({"topic": ""}, "topic"),
        ({"topic": "a\nb"}, "topic"),
        ({"summary": "x" * 2001}, "summary"),
        ({"summary": "bell\x07"}, "summary"),
        ({"occurred_at": "2026-12-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "2026-11-01T00:00:00"}, "occurred_at"),
        ({"branch_code": "bj"}, "branch_code"),
        ({"staff_id": "someone-else"}, "staff_id"),
    ],
)
def test_bad_interaction_is_422_naming_the_field(client, auth, customer, overrides, field):
    resp = _log(client, auth("staff"), customer["id"], **overrides)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


def test_summary_at_the_cap_is_accepted(client, auth, customer):
    assert _log(client, auth("staff"), customer["id"], summary="备" * 2000).status_code == 201


@pytest.mark.parametrize("role", ["customer", "system"])
def test_non_staff_role_is_403(client, auth, customer, role):
    headers = auth(role, sub=customer["id"]) if role == "customer" else auth(role)
    assert _log(client, headers, customer["id"]).status_code == 403
    assert client.get(f"/v1/customers/{customer['id']}/interactions", headers=headers).status_code == 403


def test_unknown_customer_is_404_and_no_token_is_401(client, auth, customer):
    assert _log(client, auth("staff"), uuid.uuid4()).status_code == 404
    assert client.get(f"/v1/customers/{uuid.uuid4()}/interactions", headers=auth("staff")).status_code == 404
    assert _log(client, {}, customer["id"]).status_code == 401
    assert client.get(f"/v1/customers/{customer['id']}/interactions").status_code == 401


@pytest.mark.parametrize(
    "params, field", [({"channel": "fax"}, "channel"), ({"to": "soon"}, "to"), ({"limit": 0}, "limit")]
)
def test_bad_list_query_is_422(client, auth, customer, params, field):
    resp = client.get(f"/v1/customers/{customer['id']}/interactions", params=params, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", field]


TYPED = "客户来电抱怨窗口冷淡，身份证11010519491231002X，另留手机139-1234-5678"


def test_topic_and_summary_are_encrypted_at_rest_and_read_masked(client, auth, customer, profile_db):
    staff = auth("staff")
    key = {"Idempotency-Key": f"i-{uuid.uuid4()}", **staff}
    resp = _log(client, key, customer["id"], topic="窗口冷淡投诉", summary=TYPED)
    assert resp.status_code == 201
    again = _log(client, key, customer["id"], topic="窗口冷淡投诉", summary=TYPED)  # the stored answer, sealed
    assert again.status_code == 201 and again.json() == resp.json()
    shown = _list(client, auth, customer["id"])["items"][0]
    assert shown["topic"] == "窗口冷淡投诉"
    assert shown["summary"] == "客户来电抱怨窗口冷淡，身份证110105********002X，另留手机139****5678"
    assert resp.json()["summary"] == shown["summary"]
    assert stored_in_clear(profile_db, "窗口冷淡") == []
    export = client.get(f"/v1/customers/{customer['id']}/export", headers=auth("supervisor"))
    assert export.status_code == 200
    assert [i["summary"] for i in export.json()["interactions"]] == [TYPED]  # the person's own copy, in full
