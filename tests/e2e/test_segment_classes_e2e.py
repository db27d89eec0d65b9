"""End to end with real processes: loyalty checks the rule segments a reward, a customer event or an
earning rule names against segmentation's class catalogue, asked over HTTP with loyalty's own system
token. A segment segmentation has is accepted, one it has not is a 422 naming the entry; with
segmentation stopped, naming a rule segment is a 503 naming segmentation and nothing is written, while
the built-in classes, checked in loyalty, still are; started again, it answers again."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.common.config import DEV_JWT_SECRET
from tests.e2e.conftest import Process, base_env, migrate_service

pytestmark = pytest.mark.e2e
UNKNOWN = "3f1c2a9e-5b7d-4c1e-9a2b-6d8e0f4a7c31"
STARTS = datetime.now(UTC) + timedelta(days=30)


@dataclass
class Pair:
    segmentation: Process
    loyalty: Process


@pytest.fixture
def pair(tmp_path) -> Iterator[Pair]:
    dbs = {name: f"sqlite:///{tmp_path / name}.db" for name in ("segmentation", "loyalty")}
    for name, url in dbs.items():
        migrate_service(name, url)
    segmentation = Process(
        "segmentation",
        "services.segmentation.app:create_app",
        base_env(
            SEGMENTATION_DATABASE_URL=dbs["segmentation"],
            SEGMENTATION_ENVIRONMENT="test",
            SEGMENTATION_LOG_LEVEL="WARNING",
            SEGMENTATION_JWT_SECRET=DEV_JWT_SECRET,
            SEGMENTATION_PROFILE_FEED_URL="",
            SEGMENTATION_LOYALTY_FEED_URL="",
            SEGMENTATION_FEEDBACK_FEED_URL="",
        ),
        tmp_path / "segmentation.log",
    )
    loyalty = Process(
        "loyalty",
        "services.loyalty.app:create_app",
        base_env(
            LOYALTY_DATABASE_URL=dbs["loyalty"],
            LOYALTY_ENVIRONMENT="test",
            LOYALTY_LOG_LEVEL="WARNING",
            LOYALTY_JWT_SECRET=DEV_JWT_SECRET,
            LOYALTY_PROFILE_FEED_URL="",
            LOYALTY_SEGMENTATION_FEED_URL="",
            LOYALTY_FEEDBACK_FEED_URL="",
            LOYALTY_SEGMENTATION_URL=segmentation.url,
        ),
        tmp_path / "loyalty.log",
    )
    procs = [segmentation, loyalty]
    try:
        for p in procs:
            p.spawn()
        for p in procs:
            p.wait_live()
        yield Pair(segmentation, loyalty)
    finally:
        for p in reversed(procs):
            p.stop()


def _reward(loy: httpx.Client, auth, segments: list[str]) -> httpx.Response:
    body = {"code": f"g-{uuid.uuid4().hex[:8]}", "name": "Umbrella", "type": "gift"}
    return loy.post(
        "/v1/loyalty/rewards",
        json={**body, "points_price": 100, "eligible_segments": segments},
        headers=auth("supervisor"),
    )


def _event(loy: httpx.Client, auth, segments: list[str]) -> httpx.Response:
    body = {
        "title": "Wealth lecture",
        "category": "lecture",
        "branch_code": "BJ0001",
        "starts_at": STARTS.isoformat(),
        "ends_at": (STARTS + timedelta(hours=2)).isoformat(),
        "capacity": 30,
        "target_segments": segments,
    }
    return loy.post("/v1/loyalty/customer-events", json=body, headers=auth("supervisor"))


def _rule(loy: httpx.Client, auth, segment: str) -> httpx.Response:
    body = {
        "code": f"r-{uuid.uuid4().hex[:8]}",
        "name": "deposits",
        "kind": "deposit",
        "points_per_100_cny": 10,
        "multipliers": [{"segment": segment, "factor": "1.5"}],
    }
    return loy.post("/v1/loyalty/rules", json=body, headers=auth("supervisor"))


def _rewards(loy: httpx.Client, auth) -> list[str]:
    page = loy.get("/v1/loyalty/rewards", params={"available_only": False}, headers=auth("staff")).json()
    return [r["code"] for r in page["items"]]


def test_rule_segments_are_checked_against_segmentations_catalogue(pair, auth):
    with (
        httpx.Client(base_url=pair.segmentation.url, timeout=10) as seg,
        httpx.Client(base_url=pair.loyalty.url, timeout=10) as loy,
    ):
        rule = {"field": "aum", "op": "gte", "value": "500000.00"}
        created = seg.post("/v1/segments", json={"name": "Wealthy", "rule": rule}, headers=auth("staff"))
        assert created.status_code == 201, created.text
        wealthy = f"rule:{created.json()['id']}:member"
        ids = [c["id"] for c in seg.get("/v1/segments/classes", headers=auth("system")).json()["items"]]
        assert wealthy in ids and "asset_size:major" in ids

        resp = _reward(loy, auth, ["asset_size:major", wealthy])
        assert resp.status_code == 201, resp.text
        assert resp.json()["eligible_segments"] == ["asset_size:major", wealthy]
        assert _event(loy, auth, [wealthy]).status_code == 201
        assert _rule(loy, auth, wealthy).status_code == 201

        missing = f"rule:{UNKNOWN}:member"
        resp = _reward(loy, auth, [wealthy, missing])
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"] == [
            {
                "loc": ["body", "eligible_segments", 1],
                "msg": f"no such class: {missing} (no rule segment {UNKNOWN} in segmentation)",
                "type": "class_unknown",
            }
        ]
        reward_id = _reward(loy, auth, ["behaviour:dormant"]).json()["id"]
        resp = loy.patch(
            f"/v1/loyalty/rewards/{reward_id}",
            json={"eligible_segments": [missing]},
            headers={**auth("supervisor"), "If-Match": '"1"'},
        )
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "eligible_segments", 0]
        resp = _event(loy, auth, ["asset_size:high", missing])
        assert resp.status_code == 422
        assert [e["loc"] for e in resp.json()["errors"]] == [["body", "target_segments", i] for i in (0, 1)]
        resp = _rule(loy, auth, missing)
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "multipliers", 0, "segment"]

        pair.segmentation.stop()
        before = _rewards(loy, auth)
        for resp in (_reward(loy, auth, [wealthy]), _event(loy, auth, [wealthy]), _rule(loy, auth, wealthy)):
            assert resp.status_code == 503, resp.text
            problem = resp.json()
            assert (problem["code"], problem["service"]) == ("upstream_unavailable", "segmentation")
            assert resp.headers["content-type"] == "application/problem+json"
        assert _rewards(loy, auth) == before
        assert _reward(loy, auth, ["asset_size:micro"]).status_code == 201  # checked in loyalty
        assert _reward(loy, auth, ["asset_size:high"]).status_code == 422

        pair.segmentation.start()
        resp = _reward(loy, auth, [wealthy])
        assert resp.status_code == 201, resp.text
