"""End to end with real processes: segmentation's copy of a customer's points balance follows every
loyalty ledger movement over loyalty's feed (credits, a redemption, a negative adjustment, a
cancelled redemption), and equals loyalty's own balance once the feeds drain."""

import time

import httpx
import pytest

from services.common.config import DEV_JWT_SECRET
from tests.e2e.conftest import Process, base_env, migrate_service
from tests.e2e.test_gateway_profile import REGISTRATION
from tests.e2e.whole_suite import until

pytestmark = pytest.mark.e2e


def _service(name: str, tmp_path, **env: str) -> Process:
    prefix = name.upper()
    settings = {
        f"{prefix}_ENVIRONMENT": "test",
        f"{prefix}_LOG_LEVEL": "WARNING",
        f"{prefix}_JWT_SECRET": DEV_JWT_SECRET,
    }
    return Process(name, f"services.{name}.app:create_app", base_env(**settings, **env), tmp_path / f"{name}.log")


@pytest.fixture
def points_suite(tmp_path):
    dbs = {name: f"sqlite:///{tmp_path / name}.db" for name in ("profile", "loyalty", "segmentation")}
    migrate_service("profile", dbs["profile"])
    migrate_service("loyalty", dbs["loyalty"])
    migrate_service("segmentation", dbs["segmentation"])
    profile = _service("profile", tmp_path, PROFILE_DATABASE_URL=dbs["profile"])
    loyalty = _service(
        "loyalty",
        tmp_path,
        LOYALTY_DATABASE_URL=dbs["loyalty"],
        LOYALTY_PROFILE_FEED_URL=f"{profile.url}/v1/events",
        LOYALTY_SEGMENTATION_FEED_URL="",
        LOYALTY_FEEDBACK_FEED_URL="",
        LOYALTY_FEED_IDLE_SECONDS="0.2",
    )
    segmentation = _service(
        "segmentation",
        tmp_path,
        SEGMENTATION_DATABASE_URL=dbs["segmentation"],
        SEGMENTATION_PROFILE_FEED_URL=f"{profile.url}/v1/events",
        SEGMENTATION_LOYALTY_FEED_URL=f"{loyalty.url}/v1/events",
        SEGMENTATION_FEEDBACK_FEED_URL="",
        SEGMENTATION_FEED_IDLE_SECONDS="0.2",
    )
    procs = [profile, loyalty, segmentation]
    try:
        for p in procs:
            p.spawn()
        for p in procs:
            p.wait_live()
        yield loyalty, segmentation
    finally:
        for p in reversed(procs):
            p.stop()


def _copied_balance(seg: httpx.Client, cid: str, headers: dict[str, str], want: int) -> int | None:
    deadline, seen = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        resp = seg.get("/v1/memberships", params={"customer_id": cid}, headers=headers)
        seen = resp.json()["features"]["points_balance"] if resp.status_code == 200 else None
        if seen == want:
            return seen
        time.sleep(0.2)
    return seen


def test_segmentation_points_equal_loyalty_balance_after_every_movement(points_suite, auth):
    loyalty_proc, segmentation_proc = points_suite
    profile_url = loyalty_proc.env["LOYALTY_PROFILE_FEED_URL"].removesuffix("/v1/events")
    with (
        httpx.Client(base_url=profile_url, timeout=10) as prof,
        httpx.Client(base_url=loyalty_proc.url, timeout=10) as loy,
        httpx.Client(base_url=segmentation_proc.url, timeout=10) as seg,
    ):
        cid = prof.post("/v1/customers", json=REGISTRATION, headers=auth("staff")).json()["id"]
        until(  # loyalty learns the customer's branch from profile's feed; until then it is out of staff's reach
            lambda: (
                loy.post("/v1/loyalty/accounts", json={"customer_id": cid}, headers=auth("staff")).status_code == 201
            ),
            "loyalty enrols the customer once it knows its branch",
        )

        def balance() -> int:
            return loy.get(f"/v1/loyalty/accounts/{cid}", headers=auth("staff")).json()["balance"]

        def adjust(points: int) -> None:
            body = {"points": points, "reason": "end-to-end movement"}
            resp = loy.post(f"/v1/loyalty/accounts/{cid}/adjustments", json=body, headers=auth("supervisor"))
            assert resp.status_code == 201, resp.text

        adjust(900)
        reward = loy.post(
            "/v1/loyalty/rewards",
            headers=auth("supervisor"),
            json={
                "code": "umbrella",
                "name": "Umbrella",
                "type": "gift",
                "points_price": 300,
                "active_from": "2026-01-01T00:00:00Z",
            },
        )
        assert reward.status_code == 201, reward.text
        redemption = loy.post(
            "/v1/loyalty/redemptions",
            json={"customer_id": cid, "reward_id": reward.json()["id"]},
            headers=auth("staff"),
        )
        assert redemption.status_code == 201, redemption.text
        assert _copied_balance(seg, cid, auth("staff"), 600) == balance() == 600
        adjust(-250)  # a debit: points.debited
        assert _copied_balance(seg, cid, auth("staff"), 350) == balance() == 350
        cancel = loy.post(f"/v1/loyalty/redemptions/{redemption.json()['id']}/cancel", headers=auth("staff"))
        assert cancel.status_code == 200, cancel.text  # a restore: points.restored
        assert _copied_balance(seg, cid, auth("staff"), 650) == balance() == 650
