"""End to end through the gateway with real processes: a transaction ingested in profile reaches
loyalty over profile's event feed and its points appear on the customer's account."""

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.common.config import DEV_JWT_SECRET
from tests.e2e.conftest import Process, base_env, migrate_service
from tests.e2e.test_gateway_profile import REGISTRATION
from tests.e2e.whole_suite import until

pytestmark = pytest.mark.e2e


@pytest.fixture
def loyalty_suite(tmp_path):
    profile_db, loyalty_db = f"sqlite:///{tmp_path / 'profile.db'}", f"sqlite:///{tmp_path / 'loyalty.db'}"
    migrate_service("profile", profile_db)
    migrate_service("loyalty", loyalty_db)
    profile = Process(
        "profile",
        "services.profile.app:create_app",
        base_env(
            PROFILE_DATABASE_URL=profile_db,
            PROFILE_ENVIRONMENT="test",
            PROFILE_LOG_LEVEL="WARNING",
            PROFILE_JWT_SECRET=DEV_JWT_SECRET,
        ),
        tmp_path / "profile.log",
    )
    loyalty = Process(
        "loyalty",
        "services.loyalty.app:create_app",
        base_env(
            LOYALTY_DATABASE_URL=loyalty_db,
            LOYALTY_ENVIRONMENT="test",
            LOYALTY_LOG_LEVEL="WARNING",
            LOYALTY_JWT_SECRET=DEV_JWT_SECRET,
            LOYALTY_PROFILE_FEED_URL=f"{profile.url}/v1/events",
            LOYALTY_SEGMENTATION_FEED_URL="",
            LOYALTY_FEEDBACK_FEED_URL="",
            LOYALTY_FEED_IDLE_SECONDS="0.2",
        ),
        tmp_path / "loyalty.log",
    )
    gateway = Process(
        "gateway",
        "gateway.app:create_app",
        base_env(
            GATEWAY_PROFILE_URL=profile.url,
            GATEWAY_LOYALTY_URL=loyalty.url,
            GATEWAY_ENVIRONMENT="test",
            GATEWAY_LOG_LEVEL="WARNING",
            GATEWAY_JWT_SECRET=DEV_JWT_SECRET,
        ),
        tmp_path / "gateway.log",
    )
    procs = [profile, loyalty, gateway]
    try:
        for p in procs:
            p.spawn()
        for p in procs:
            p.wait_live()
        yield gateway
    finally:
        for p in reversed(procs):
            p.stop()


def test_transaction_ingested_in_profile_earns_points_in_loyalty(loyalty_suite, auth):
    with httpx.Client(base_url=loyalty_suite.url, timeout=10) as http:
        customer = http.post("/api/v1/customers", json=REGISTRATION, headers=auth("staff"))
        assert customer.status_code == 201, customer.text
        cid = customer.json()["id"]
        until(  # loyalty learns the customer's branch from profile's feed; until then it is out of staff's reach
            lambda: (
                http.post("/api/v1/loyalty/accounts", json={"customer_id": cid}, headers=auth("staff")).status_code
                == 201
            ),
            "loyalty enrols the customer once it knows its branch",
        )
        rule = http.post(
            "/api/v1/loyalty/rules",
            headers=auth("supervisor"),
            json={
                "code": "deposits",
                "name": "Deposits",
                "kind": "deposit",
                "points_per_100_cny": 10,
                "valid_from": "2026-01-01T00:00:00Z",
            },
        )
        assert rule.status_code == 201, rule.text
        at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        batch = http.post(
            "/api/v1/transactions:batch",
            headers=auth("system"),
            json={
                "items": [
                    {
                        "external_id": "CORE-E2E-1",
                        "customer_id": cid,
                        "kind": "deposit",
                        "amount": "1234.56",
                        "channel": "mobile",
                        "occurred_at": at,
                    }
                ]
            },
        )
        assert batch.status_code == 200 and batch.json()["recorded_count"] == 1, batch.text
        deadline, balance = time.monotonic() + 30, 0
        while time.monotonic() < deadline and balance == 0:
            time.sleep(0.2)
            balance = http.get(f"/api/v1/loyalty/accounts/{cid}", headers=auth("customer", sub=cid)).json()["balance"]
        assert balance == 123
        [entry] = http.get(f"/api/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"]
        assert (entry["source"], entry["source_ref"], entry["points"]) == ("transaction", "CORE-E2E-1", 123)
