"""Segment references are checked: each class a reward (create and change), a customer event or an
earning rule's multiplier names must be a class of segmentation's catalogue. The built-in schemes'
classes are checked in loyalty (no call); a 422 names the entry's index and says what is known. A rule
segment is looked up in segmentation: here segmentation is not running, so that is a 503 naming it and
nothing is written, unless another entry is wrong already. A live segmentation is in
tests/e2e/test_segment_classes_e2e.py."""

import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from services.loyalty.app import create_app
from services.loyalty.service.classes import FIXED_CLASSES
from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY, loyalty_settings

EVERY_FIXED_CLASS = [f"{scheme}:{cls}" for scheme, classes in FIXED_CLASSES.items() for cls in classes]
SOME_RULE = f"rule:{uuid.uuid4()}:member"
DAY = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)


def _nobody_listening() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def loyalty_app(loyalty_db, clock):
    """Loyalty with segmentation configured at an address where nothing listens."""
    return create_app(
        loyalty_settings(loyalty_db.url, segmentation_url=_nobody_listening()), db=loyalty_db, clock=clock
    )


def create_reward(client, auth):
    body = {"code": f"g-{uuid.uuid4().hex[:8]}", "name": "Umbrella", "type": "gift", "points_price": 10}
    return lambda segments: client.post(
        "/v1/loyalty/rewards", json={**body, "eligible_segments": segments}, headers=auth("supervisor")
    )


def change_reward(client, auth):
    reward = f.reward(client, auth)
    return lambda segments: client.patch(
        f"/v1/loyalty/rewards/{reward['id']}",
        json={"eligible_segments": segments},
        headers={**auth("supervisor"), "If-Match": '"1"'},
    )


def create_event(client, auth):
    body = {
        "title": "Wealth lecture",
        "category": "lecture",
        "branch_code": "BJ0001",
        "starts_at": DAY.isoformat(),
        "ends_at": (DAY + timedelta(hours=2)).isoformat(),
        "capacity": 20,
    }
    return lambda segments: client.post(
        "/v1/loyalty/customer-events", json={**body, "target_segments": segments}, headers=auth("supervisor")
    )


def _multipliers(segments) -> list[dict]:
    return [{"segment": s, "factor": "2"} for s in segments]


def create_rule(client, auth):
    body = {"code": f"r-{uuid.uuid4().hex[:8]}", "name": "deposits", "kind": "deposit", "points_per_100_cny": 10}
    return lambda segments: client.post(
        "/v1/loyalty/rules", json={**body, "multipliers": _multipliers(segments)}, headers=auth("supervisor")
    )


def change_rule(client, auth):
    rule = f.rule(client, auth)
    body = {"kind": "deposit", "points_per_100_cny": 10}
    return lambda segments: client.put(
        f"/v1/loyalty/rules/{rule['id']}",
        json={**body, "multipliers": _multipliers(segments)},
        headers={**auth("supervisor"), "If-Match": '"1"'},
    )


# (write: prepares what it changes and returns the request, taking the classes to name; the field the
# classes are in; the part of the field's item that holds one)
WRITES = [
    (create_reward, "eligible_segments", None),
    (change_reward, "eligible_segments", None),
    (create_event, "target_segments", None),
    (create_rule, "multipliers", "segment"),
    (change_rule, "multipliers", "segment"),
]
WRITE_IDS = [w.__name__ for w, _, _ in WRITES]


def _loc(field: str, part: str | None, index: int) -> list:
    return ["body", field, index, *([part] if part else [])]


@pytest.mark.parametrize(("write", "field", "part"), WRITES, ids=WRITE_IDS)
def test_every_built_in_class_is_accepted_without_asking_segmentation(client, auth, write, field, part):
    segments = EVERY_FIXED_CLASS[:10] if part else EVERY_FIXED_CLASS  # at most 10 multipliers
    resp = write(client, auth)(segments)
    assert resp.status_code in (200, 201), resp.text


def test_a_reward_keeps_the_classes_it_was_given(client, auth):
    resp = create_reward(client, auth)(["asset_size:major", "behaviour:dormant"])
    assert resp.status_code == 201 and resp.json()["eligible_segments"] == ["asset_size:major", "behaviour:dormant"]


@SQLITE_ONLY
@pytest.mark.parametrize(("write", "field", "part"), WRITES, ids=WRITE_IDS)
@pytest.mark.parametrize(
    ("segments", "index", "msg"),
    [
        (
            ["asset_size:major", "asset_size:high"],
            1,
            "no such class: asset_size:high (known asset_size classes: major, mid_high, ordinary, micro)",
        ),
        (
            ["asset_sise:major"],
            0,
            "no such class: asset_sise:major (no scheme asset_sise; the schemes are customer_type, region, "
            "asset_size, behaviour, rule:<segment id>)",
        ),
        (
            ["region:urban", "behaviour:active", "region:city"],
            2,
            "no such class: region:city (known region classes: urban, rural, peri_urban)",
        ),
        (
            ["rule:3f1c2a9e-5b7d-4c1e-9a2b-6d8e0f4a7c31"],
            0,
            "no such class: rule:3f1c2a9e-5b7d-4c1e-9a2b-6d8e0f4a7c31 (a rule segment's class is "
            "rule:<segment id>:member)",
        ),
        (["rule:vip:member"], 0, "no such class: rule:vip:member (no rule segment vip in segmentation)"),
    ],
    ids=["unknown-class", "unknown-scheme", "third-entry", "rule-without-class", "rule-id-not-a-uuid"],
)
def test_a_class_that_does_not_exist_is_422_naming_the_entry(client, auth, write, field, part, segments, index, msg):
    resp = write(client, auth)(segments)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["code"] == "validation_failed"
    assert body["errors"] == [{"loc": _loc(field, part, index), "msg": msg, "type": "class_unknown"}]


@SQLITE_ONLY
def test_every_wrong_entry_is_named(client, auth):
    resp = create_reward(client, auth)(["asset_sise:major", "asset_size:major", "asset_size:high"])
    assert resp.status_code == 422
    assert [e["loc"] for e in resp.json()["errors"]] == [
        ["body", "eligible_segments", 0],
        ["body", "eligible_segments", 2],
    ]


@pytest.mark.parametrize(("write", "field", "part"), WRITES, ids=WRITE_IDS)
def test_a_rule_segment_while_segmentation_is_unreachable_is_503_and_writes_nothing(client, auth, write, field, part):
    send = write(client, auth)
    before = _written(client, auth)
    resp = send(["asset_size:major", SOME_RULE])
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert (body["code"], body["service"]) == ("upstream_unavailable", "segmentation")
    assert "segmentation" in body["detail"] and "unreachable" in body["detail"]
    assert _written(client, auth) == before


def _written(client, auth) -> dict:
    """What the writes above can leave behind: rewards, events, rules, each with its version."""
    rewards = client.get("/v1/loyalty/rewards", params={"available_only": False}, headers=auth("staff")).json()
    events = client.get("/v1/loyalty/customer-events", headers=auth("staff")).json()
    rules = client.get("/v1/loyalty/rules", headers=auth("staff")).json()
    return {
        "rewards": sorted((r["code"], r["version"], tuple(r["eligible_segments"])) for r in rewards["items"]),
        "events": len(events["items"]),
        "rules": sorted((r["code"], r["version"]) for r in rules["items"]),
    }


@SQLITE_ONLY
def test_a_certain_422_comes_before_asking_segmentation(client, auth):
    resp = create_reward(client, auth)([SOME_RULE, "asset_size:high"])
    assert resp.status_code == 422, resp.text
    assert [e["loc"] for e in resp.json()["errors"]] == [["body", "eligible_segments", 1]]


@SQLITE_ONLY
def test_a_rule_segment_without_segmentation_configured_is_503(loyalty_db, clock, auth):
    app = create_app(loyalty_settings(loyalty_db.url, segmentation_url=""), db=loyalty_db, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = create_reward(client, auth)([SOME_RULE])
        assert resp.status_code == 503 and resp.json()["service"] == "segmentation"
        assert "LOYALTY_SEGMENTATION_URL" in resp.json()["detail"]
        assert create_reward(client, auth)(["asset_size:major"]).status_code == 201


def test_the_openapi_documents_the_check_and_the_503(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in [
        ("/v1/loyalty/rewards", "post"),
        ("/v1/loyalty/rewards/{reward_id}", "patch"),
        ("/v1/loyalty/customer-events", "post"),
        ("/v1/loyalty/rules", "post"),
        ("/v1/loyalty/rules/{rule_id}", "put"),
    ]:
        op = paths[path][method]
        assert "503" in op["responses"] and "422" in op["responses"], (path, method)
        assert "/v1/segments/classes" in op["description"], (path, method)
