"""End to end through the gateway, on both databases, with a real Mosquitto: two customers with an app
push token, one of whom consented to marketing over the app; a campaign for a segment class, launched
by a head-office maker and approved by a supervisor; the consenting customer's app, subscribed on the
customer's own MQTT topic, receives the message and acknowledges it, and the outreach record moves to
delivered; the customer without consent gets nothing and has no outreach record."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.profile.service.identity import resident_id_check_char
from tests.e2e.whole_suite import ok, until, whole_suite  # noqa: F401 - whole_suite is a fixture
from tests.mqttkit import require_mosquitto, subscribed

pytestmark = pytest.mark.e2e


def _customer(gw: httpx.Client, staff: dict[str, str], n: int, consent: bool) -> str:
    base = f"1101051990030{n}123"
    body = {
        "type": "individual",
        "name": f"客户{n}",
        "resident_id": base + resident_id_check_char(base),
        "phone": f"1380013{n:04d}",
        "region_type": "urban",
        "province": "北京",
        "city": "北京",
        "branch_code": "BJ0001",
    }
    cid = ok(gw.post("/api/v1/customers", json=body, headers=staff), 201)["id"]
    token = {"kind": "app_push", "value": f"apptoken-{cid.replace('-', '')}"}
    ok(gw.post(f"/api/v1/customers/{cid}/contacts", json=token, headers=staff), 201)
    if consent:
        grant = {"channel": "app_push", "status": "granted", "given_via": "app", "policy_version": "2026.1"}
        ok(gw.post(f"/api/v1/customers/{cid}/consents", json=grant, headers=staff), 201)
    return cid


def test_an_approved_campaign_reaches_the_consenting_customers_app_over_mqtt(whole_suite, auth):  # noqa: F811
    require_mosquitto()
    staff, maker, checker = auth("staff", branch="BJ0001"), auth("admin", sub="hq-maker"), auth("supervisor")
    now = datetime.now(UTC)
    with httpx.Client(base_url=whole_suite.procs["gateway"].url, timeout=10) as gw:
        consenting = _customer(gw, staff, 1, consent=True)
        silent = _customer(gw, staff, 2, consent=False)
        body = {
            "name": "手机银行新功能通知",
            "audience": "customer_type:individual",
            "channel": "app_push",
            "purpose": "marketing",
            "template": "您好，您的积分余额为{points_balance}，欢迎体验手机银行新功能。",
            "send_from": (now - timedelta(minutes=1)).isoformat(),
            "send_until": (now + timedelta(days=1)).isoformat(),
            "quiet_start": "00:00",
            "quiet_end": "00:00",
        }
        campaign = ok(gw.post("/api/v1/loyalty/campaigns", json=body, headers=maker), 201)
        dry_run = f"/api/v1/loyalty/campaigns/{campaign['id']}/dry-run"

        def funnel() -> dict[str, int]:
            return {s["filter"]: s["left"] for s in ok(gw.post(dry_run, headers=maker), 200)["steps"]}

        until(lambda: funnel()["audience"] == 2 and funnel()["consent"] == 1, "both in the class, one consenting")
        with (
            subscribed(f"suite/customers/{consenting}/inbox") as app,
            subscribed(f"suite/customers/{silent}/inbox") as silent_app,
        ):
            asked = ok(gw.post(f"/api/v1/loyalty/campaigns/{campaign['id']}/launch", headers=maker), 202)
            approved = ok(gw.post(f"/api/v1/loyalty/approvals/{asked['id']}/approve", headers=checker), 200)
            assert approved["queued"] == 1
            [(topic, message)] = app.wait_for(1, timeout=30)
            assert topic == f"suite/customers/{consenting}/inbox"
            assert message["body"] == "您好，您的积分余额为0，欢迎体验手机银行新功能。"
            customer = auth("customer", sub=consenting)
            receipt = f"/api/v1/loyalty/outreach/{message['outreach_id']}/receipts"
            assert ok(gw.post(receipt, json={"state": "delivered"}, headers=customer), 200)["state"] == "delivered"
            assert silent_app.messages == []

        mine = ok(gw.get("/api/v1/loyalty/outreach", params={"customer_id": consenting}, headers=customer), 200)
        assert [(o["state"], o["campaign_id"]) for o in mine["items"]] == [("delivered", campaign["id"])]
        theirs = ok(gw.get("/api/v1/loyalty/outreach", params={"customer_id": silent}, headers=maker), 200)
        assert theirs["items"] == []
