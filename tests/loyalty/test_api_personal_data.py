"""GET /v1/personal-data/{customer_id}: loyalty's part of a person's export (account, ledger,
redemptions, vouchers, event registrations), each export on the access log, and who may ask."""

import uuid
from datetime import UTC, datetime, timedelta

from tests.loyalty import care_kit as k
from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY
from tests.personal_data import assert_refusals

DAY = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)


def _path(cid: str) -> str:
    return f"/v1/personal-data/{cid}"


def _held(client, auth) -> str:
    cid = f.funded(client, auth, 1000)
    voucher = f.reward(client, auth, type="voucher", stock=None, voucher_valid_days=7, points_price=100)
    assert f.redeem(client, auth("customer", sub=cid), cid, voucher["id"]).status_code == 201
    event = {
        "title": "理财讲座",
        "category": "lecture",
        "branch_code": "BJ0001",
        "starts_at": DAY.isoformat(),
        "ends_at": (DAY + timedelta(hours=2)).isoformat(),
        "capacity": 5,
    }
    event_id = client.post("/v1/loyalty/customer-events", json=event, headers=auth("supervisor")).json()["id"]
    registration = {"customer_id": cid}
    url = f"/v1/loyalty/customer-events/{event_id}/registrations"
    assert client.post(url, json=registration, headers=auth("staff")).status_code == 201
    return cid


def test_export_own_data_every_kind_and_access_logged(client, auth, loyalty_app):
    cid = _held(client, auth)
    f.consumer(loyalty_app, "feedback").apply([k.invited(cid, 1)])  # a survey invitation in the inbox
    f.consumer(loyalty_app).apply([k.reminder(cid, "birthday", "2026-03-15")])  # a care task about the person
    resp = client.get(_path(cid), headers=auth("customer", sub=cid))
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert (body["service"], body["customer_id"]) == ("loyalty", cid)
    assert body["produced_at"].startswith("2026-03-10T02:00:00")
    data = body["data"]
    assert data["account"]["customer_id"] == cid and data["account"]["balance"] == 900
    assert [e["kind"] for e in data["ledger"]] == ["adjust", "redeem"]
    assert data["ledger"][0]["reason"] == "welcome bonus"
    assert len(data["redemptions"]) == 1 and data["redemptions"][0]["voucher_code"]
    assert [v["voucher_code"] for v in data["vouchers"]] == [data["redemptions"][0]["voucher_code"]]
    assert [(r["status"], r["event"]["title"]) for r in data["event_registrations"]] == [("registered", "理财讲座")]
    assert [n["kind"] for n in data["notifications"]] == ["survey_invitation", "birthday"]
    assert [(t["kind"], t["customer_id"]) for t in data["care_tasks"]] == [("birthday", cid)]
    assert data["outreach"] == []  # campaign contacts: tests/loyalty/test_api_campaigns.py
    assert [(a["action"], a["actor_sub"], a["actor_role"]) for a in data["access_log"]] == [
        ("personal_data.exported", cid, "customer")
    ]
    again = client.get(_path(cid), headers=auth("supervisor", sub="sup-1")).json()["data"]["access_log"]
    assert [(a["actor_sub"], a["actor_role"]) for a in again] == [(cid, "customer"), ("sup-1", "supervisor")]


def test_export_unknown_customer_empty_data_still_logged(client, auth):
    cid = str(uuid.uuid4())
    data = client.get(_path(cid), headers=auth("admin")).json()["data"]
    assert (data["account"], data["ledger"], data["redemptions"], data["event_registrations"]) == (None, [], [], [])
    assert [a["actor_role"] for a in data["access_log"]] == ["admin"]


@SQLITE_ONLY
def test_export_refusals_401_403_404_422(client, auth):
    assert_refusals(client, auth)
