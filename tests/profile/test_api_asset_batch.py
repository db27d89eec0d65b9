"""POST /v1/asset-snapshots:batch: core banking's daily asset snapshots many at a time, each item
with the single PUT's semantics (created, replaced, unchanged; assets.updated for a change), bad
items refused alone, the limits, and who may call it."""

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from services.profile.app import create_app
from tests.profile import factories as f
from tests.profile.conftest import profile_settings

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(profile_app):
    profile_app.state.clock = lambda: NOW


@pytest.fixture
def customers(client, auth):
    return [f.register(client, auth("staff"))["id"] for _ in range(3)]


def snap(cid: str, day: str = "2026-11-27", aum: str = "1000.00") -> dict:
    return {"customer_id": cid, "as_of_date": day, "aum": aum}


def _batch(client, headers, items, status=200):
    resp = client.post("/v1/asset-snapshots:batch", json={"items": items}, headers=headers)
    assert resp.status_code == status, resp.text
    return resp.json()


def _asset_events(client, auth):
    items = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    return [e for e in items if e["type"] == "assets.updated"]


def _counts(result):
    return tuple(result[k] for k in ("created_count", "replaced_count", "unchanged_count", "rejected_count"))


def test_batch_stores_every_snapshot_with_one_event_each(client, auth, customers):
    result = _batch(client, auth("system"), [snap(c, aum=f"{i + 1}000.50") for i, c in enumerate(customers)])
    assert _counts(result) == (3, 0, 0, 0)
    assert [(r["index"], r["customer_id"]) for r in result["created"]] == list(enumerate(customers))
    listed = client.get(f"/v1/customers/{customers[1]}/assets", headers=auth("staff")).json()["items"]
    assert [(a["as_of_date"], a["aum"]) for a in listed] == [("2026-11-27", "2000.50")]
    events = _asset_events(client, auth)
    assert [e["subject_id"] for e in events] == customers
    assert events[0]["data"] == {"as_of_date": "2026-11-27", "aum": "1000.50", "aum_fen": 100050}


def test_replayed_batch_is_unchanged_and_a_corrected_value_replaces(client, auth, customers):
    items = [snap(c) for c in customers]
    _batch(client, auth("system"), items)
    again = _batch(client, auth("system"), items)
    assert _counts(again) == (0, 0, 3, 0) and len(_asset_events(client, auth)) == 3
    corrected = _batch(client, auth("system"), [snap(customers[0], aum="7.00"), snap(customers[1])])
    assert _counts(corrected) == (0, 1, 1, 0) and corrected["replaced"][0]["customer_id"] == customers[0]
    summary = client.get(f"/v1/customers/{customers[0]}/summary", headers=auth("staff")).json()
    assert summary["aum"] == "7.00"
    assert [e["data"]["aum"] for e in _asset_events(client, auth)][-1] == "7.00"


def test_batch_and_single_put_agree(client, auth, customers):
    put = client.put(f"/v1/customers/{customers[0]}/assets/2026-11-27", json={"aum": "1000.00"}, headers=auth("system"))
    assert put.status_code == 201
    assert _counts(_batch(client, auth("system"), [snap(customers[0])])) == (0, 0, 1, 0)


def test_bad_items_are_refused_alone_with_index_and_reason(client, auth, customers):
    items = [
        snap(customers[0]),
        snap(customers[1], day="2026-11-29"),  # future
        snap(str(uuid.uuid4())),  # unknown customer
        snap(customers[0], aum="2.00"),  # the same customer and date again
        {"customer_id": customers[2], "as_of_date": "2026-11-27", "aum": "-1.00"},
        {"customer_id": customers[2], "as_of_date": "2026-11-27", "aum": "1.00", "extra": 1},
        42,
        snap(customers[2], day="2026-11-26"),
    ]
    result = _batch(client, auth("system"), items)
    assert [r["index"] for r in result["created"]] == [0, 7]
    rejected = {r["index"]: r for r in result["rejected"]}
    assert {i: r["code"] for i, r in rejected.items()} == {
        1: "validation_failed",
        2: "customer_not_found",
        3: "snapshot_repeated",
        4: "validation_failed",
        5: "validation_failed",
        6: "validation_failed",
    }
    assert rejected[1]["errors"][0]["loc"] == ["items", 1, "as_of_date"]
    assert rejected[4]["errors"][0]["loc"] == ["items", 4, "aum"]
    assert len(_asset_events(client, auth)) == 2


def test_batch_over_five_thousand_is_422(client, auth, customers):
    items = [snap(customers[0], day=f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}") for i in range(5001)]
    resp = client.post("/v1/asset-snapshots:batch", json={"items": items}, headers=auth("system"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "items"]


def test_batch_of_five_thousand_fits_the_body_limit(client, auth, customers):
    days = [f"20{y:02d}-{m:02d}-{d:02d}" for y in range(12, 26) for m in range(1, 13) for d in range(1, 29)]
    items = [snap(customers[i % 3], day=days[i // 3], aum="123456789.01") for i in range(5000)]
    assert _batch(client, auth("system"), items)["created_count"] == 5000


def test_batch_over_the_body_limit_is_413(profile_db, auth):
    with TestClient(create_app(profile_settings(profile_db.url, max_body_bytes=500), db=profile_db)) as client:
        items = [snap(str(uuid.uuid4())) for _ in range(10)]
        resp = client.post("/v1/asset-snapshots:batch", json={"items": items}, headers=auth("system"))
    assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"


@pytest.mark.parametrize("items", [[], "x", None])
def test_malformed_batch_is_422(client, auth, items):
    resp = client.post("/v1/asset-snapshots:batch", json={"items": items}, headers=auth("system"))
    assert resp.status_code == 422


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor"])
def test_batch_as_other_role_is_403(client, auth, role, customers):
    resp = client.post("/v1/asset-snapshots:batch", json={"items": [snap(customers[0])]}, headers=auth(role))
    assert resp.status_code == 403 and resp.json()["code"] == "role_forbidden"


def test_batch_system_token_without_scope_is_403(client, auth, customers):
    headers = auth("system", scope="customers:write")
    resp = client.post("/v1/asset-snapshots:batch", json={"items": [snap(customers[0])]}, headers=headers)
    assert resp.status_code == 403 and resp.json()["scope"] == "transactions:write"


@pytest.mark.parametrize("role", ["system", "admin"])
def test_batch_as_each_permitted_role(client, auth, role, customers):
    assert _batch(client, auth(role), [snap(customers[0])])["created_count"] == 1


def test_batch_without_token_is_401(client, customers):
    assert client.post("/v1/asset-snapshots:batch", json={"items": [snap(customers[0])]}).status_code == 401
