"""A first look shows a working bank (real processes, both databases): the starter catalogue `make run`
loads through the gateway creates earning rules, rewards, a lecture, products and a published survey on an
empty suite, adds nothing on a second run, and with it a new customer's deposit earns points and the
customer is recommended products."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.tools.first_look import PRODUCTS, REWARDS, RULES
from services.common.config import DEV_JWT_SECRET
from tests.e2e.conftest import base_env
from tests.e2e.whole_suite import drain, enrolled_customer, ok, until, whole_suite  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e


def first_look(url: str) -> str:
    env = base_env(SUITE_JWT_SECRET=DEV_JWT_SECRET, GATEWAY_JWT_SECRET=DEV_JWT_SECRET)
    done = subprocess.run(
        [sys.executable, "-m", "gateway.tools.first_look", "--url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_starter_catalogue_makes_points_accrue_and_recommendations_appear(whole_suite, auth):  # noqa: F811
    gw_url = whole_suite.procs["gateway"].url
    staff, admin = auth("staff", branch="BJ0001"), auth("admin")
    out = first_look(gw_url)
    assert "/v1/loyalty/rules: 3 created" in out and "/v1/surveys: 1 created" in out, out
    assert "/v1/loyalty/campaigns: 1 created" in out, out
    with httpx.Client(base_url=gw_url, timeout=10) as gw:
        assert {r["code"] for r in ok(gw.get("/api/v1/loyalty/rules", headers=admin), 200)["items"]} == {
            r["code"] for r in RULES
        }
        assert len(ok(gw.get("/api/v1/loyalty/rewards", headers=admin), 200)["items"]) == len(REWARDS)
        assert len(ok(gw.get("/api/v1/products", params={"limit": 100}, headers=admin), 200)["items"]) == len(PRODUCTS)
        [lecture] = ok(gw.get("/api/v1/loyalty/customer-events", headers=admin), 200)["items"]
        assert lecture["category"] == "lecture" and lecture["status"] == "scheduled"
        [campaign] = ok(gw.get("/api/v1/loyalty/campaigns", headers=admin), 200)["items"]
        assert (campaign["status"], campaign["product_code"]) == ("draft", "FL-WM-R2")  # never launched here
        [survey] = ok(gw.get("/api/v1/surveys", headers=auth("customer")), 200)["items"]
        assert survey["state"] == "published"

        again = first_look(gw_url)
        assert "created" not in again and again.count("left as it is") == 6, again
        assert len(ok(gw.get("/api/v1/loyalty/rules", headers=admin), 200)["items"]) == len(RULES)

        cid = enrolled_customer(gw, staff, name="王小明", id_number="11010519491231002X", phone="13800138000")
        at = (datetime.now(UTC) - timedelta(days=3)).isoformat()
        item = {
            "external_id": "FIRST-LOOK-1",
            "customer_id": cid,
            "kind": "deposit",
            "amount": "1000.00",
            "channel": "counter",
            "occurred_at": at,
        }
        batch = ok(gw.post("/api/v1/transactions:batch", json={"items": [item]}, headers=auth("system")), 200)
        assert batch["recorded_count"] == 1
        until(
            lambda: gw.get(f"/api/v1/loyalty/accounts/{cid}", headers=staff).json()["balance"] == 100,
            "100 points for 1,000 CNY under fl-deposit (10 per 100 CNY at the counter)",
        )
        http = {name: httpx.Client(base_url=p.url, timeout=10) for name, p in whole_suite.procs.items()}
        try:
            drain(whole_suite, http, auth("system"))
        finally:
            for c in http.values():
                c.close()
        recs = ok(gw.get("/api/v1/recommendations", params={"customer_id": cid}, headers=staff), 200)
        codes = {r["product"]["code"] for r in recs["items"]}
        assert codes and codes <= {p["code"] for p in PRODUCTS}, recs
