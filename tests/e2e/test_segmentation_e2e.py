"""End to end through the gateway with real processes, on SQLite and PostgreSQL: a customer
registered in profile, with transactions and an asset snapshot, reaches segmentation over profile's
event feed and shows the expected class in every built-in scheme; recommendations answer. Customers
registered by the migration batch, with snapshots in bulk, reach it the same way."""

import time
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from services.common.config import DEV_JWT_SECRET
from tests.dbkit import fresh_pg_database, require_postgres, worker_id
from tests.e2e.conftest import Process, base_env, migrate_service
from tests.e2e.test_gateway_profile import REGISTRATION

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 20.0
# Valid resident IDs (GB 11643) other than REGISTRATION's.
BULK_RESIDENT_IDS = ("110105198001010016", "110105198001010032", "110105198001010059")
EXPECTED = {"customer_type": "individual", "region": "urban", "asset_size": "mid_high", "behaviour": "active"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def segmentation_suite(request, tmp_path):
    """Profile, segmentation reading profile's feed, and the gateway over both; yields the gateway."""
    if request.param == "sqlite":
        profile_db, seg_db = f"sqlite:///{tmp_path / 'profile.db'}", f"sqlite:///{tmp_path / 'segmentation.db'}"
    else:
        require_postgres()
        profile_db = fresh_pg_database(f"test_e2e_seg_profile_{worker_id()}")
        seg_db = fresh_pg_database(f"test_e2e_segmentation_{worker_id()}")
    migrate_service("profile", profile_db)
    migrate_service("segmentation", seg_db)
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
    segmentation = Process(
        "segmentation",
        "services.segmentation.app:create_app",
        base_env(
            SEGMENTATION_DATABASE_URL=seg_db,
            SEGMENTATION_ENVIRONMENT="test",
            SEGMENTATION_LOG_LEVEL="WARNING",
            SEGMENTATION_JWT_SECRET=DEV_JWT_SECRET,
            SEGMENTATION_PROFILE_FEED_URL=f"{profile.url}/v1/events",
            SEGMENTATION_LOYALTY_FEED_URL="",
            SEGMENTATION_FEEDBACK_FEED_URL="",
            SEGMENTATION_FEED_IDLE_SECONDS="0.2",
        ),
        tmp_path / "segmentation.log",
    )
    gateway = Process(
        "gateway",
        "gateway.app:create_app",
        base_env(
            GATEWAY_PROFILE_URL=profile.url,
            GATEWAY_SEGMENTATION_URL=segmentation.url,
            GATEWAY_ENVIRONMENT="test",
            GATEWAY_LOG_LEVEL="WARNING",
            GATEWAY_JWT_SECRET=DEV_JWT_SECRET,
        ),
        tmp_path / "gateway.log",
    )
    procs = [profile, segmentation, gateway]
    try:
        for p in procs:
            p.spawn()
        for p in procs:
            p.wait_live()
        yield gateway
    finally:
        for p in reversed(procs):
            p.stop()


def _classes_when_settled(http: httpx.Client, cid: str, headers: dict[str, str]) -> dict:
    """Polls the customer's memberships until every scheme shows the expected class, or the wait ends."""
    deadline, body = time.monotonic() + WAIT_SECONDS, {}
    while time.monotonic() < deadline:
        r = http.get("/api/v1/memberships", params={"customer_id": cid}, headers=headers)
        if r.status_code == 200:
            body = r.json()
            if body["classes"] == EXPECTED:
                return body
        else:
            assert r.status_code == 404, r.text  # not yet known to segmentation
        time.sleep(0.2)
    return body


def test_profile_events_classify_the_customer_through_the_gateway(segmentation_suite, auth):
    staff = auth("staff")
    with httpx.Client(base_url=segmentation_suite.url, timeout=10) as http:
        customer = http.post("/api/v1/customers", json=REGISTRATION, headers=staff)
        assert customer.status_code == 201, customer.text
        cid = customer.json()["id"]
        now = datetime.now(UTC)
        items = [
            {
                "external_id": f"CORE-SEG-{i}",
                "customer_id": cid,
                "kind": "deposit",
                "amount": "100.00",
                "channel": "mobile",
                "occurred_at": (now - timedelta(days=i + 1)).isoformat(),
            }
            for i in range(3)
        ]
        batch = http.post("/api/v1/transactions:batch", headers=auth("system"), json={"items": items})
        assert batch.status_code == 200 and batch.json()["recorded_count"] == 3, batch.text
        snapshot = http.put(
            f"/api/v1/customers/{cid}/assets/{date.today().isoformat()}",
            json={"aum": "800000.00"},
            headers=auth("system"),
        )
        assert snapshot.status_code in (200, 201), snapshot.text

        body = _classes_when_settled(http, cid, staff)
        assert body.get("classes") == EXPECTED, body
        features = body["features"]
        assert (features["aum"], features["txn_count_90"], features["branch_code"]) == ("800000.00", 3, "BJ0001")

        product = {
            "code": "WM-E2E",
            "name": "Wealth deposit",
            "category": "deposit",
            "needs_tag": "returns",
            "target_classes": ["asset_size:mid_high"],
        }
        manager = auth("supervisor", sub="supervisor-e2e") | {"Idempotency-Key": "e2e-product-1"}
        created = http.post("/api/v1/products", json=product, headers=manager)
        assert created.status_code == 201, created.text
        retried = http.post("/api/v1/products", json=product, headers=manager)
        assert retried.status_code == 201 and retried.json()["id"] == created.json()["id"], retried.text

        recs = http.get("/api/v1/recommendations", params={"customer_id": cid}, headers=staff)
        assert recs.status_code == 200, recs.text
        assert [item["product"]["code"] for item in recs.json()["items"]] == ["WM-E2E"]
        own = http.get("/api/v1/recommendations", params={"customer_id": cid}, headers=auth("customer", sub=cid))
        assert own.status_code == 200 and own.json()["customer_id"] == cid


def test_bulk_registration_and_asset_snapshots_reach_segmentation(segmentation_suite, auth):
    """The migration paths through the gateway: customers registered by the batch, and their asset
    snapshots in bulk, reach segmentation over the feed as single registrations and PUTs do."""
    staff, system = auth("staff"), auth("system")
    items = [
        {**REGISTRATION, "resident_id": resident_id, "external_id": f"LEGACY-E2E-{n}", "phone": f"1381234567{n}"}
        for n, resident_id in enumerate(BULK_RESIDENT_IDS)
    ]
    with httpx.Client(base_url=segmentation_suite.url, timeout=10) as http:
        registered = http.post("/api/v1/customers:batch", json={"items": items}, headers=system)
        assert registered.status_code == 200 and registered.json()["registered_count"] == 3, registered.text
        replay = http.post("/api/v1/customers:batch", json={"items": items}, headers=system)
        assert replay.status_code == 200 and replay.json()["duplicate_count"] == 3, replay.text
        ids = [r["customer_id"] for r in registered.json()["registered"]]
        today = date.today().isoformat()
        snaps = [{"customer_id": cid, "as_of_date": today, "aum": f"{n + 1}000.00"} for n, cid in enumerate(ids)]
        stored = http.post("/api/v1/asset-snapshots:batch", json={"items": snaps}, headers=system)
        assert stored.status_code == 200 and stored.json()["created_count"] == 3, stored.text

        expected = {cid: f"{n + 1}000.00" for n, cid in enumerate(ids)}
        deadline, seen = time.monotonic() + WAIT_SECONDS, {}
        while time.monotonic() < deadline and seen != expected:
            for cid in ids:  # known from customer.registered (aum 0.00) before assets.updated arrives
                r = http.get("/api/v1/memberships", params={"customer_id": cid}, headers=staff)
                if r.status_code == 200:
                    seen[cid] = r.json()["features"]["aum"]
            time.sleep(0.2)
        assert seen == expected
