"""GET /v1/personal-data/{customer_id}: segmentation's part of a person's export (features, classes,
rule segments, every class change, daily activity, the products recommended now), each export on
the access log, and who may ask."""

import uuid

import pytest

from tests.personal_data import assert_refusals

SQLITE_ONLY = pytest.mark.parametrize("seg_db", ["sqlite"], indirect=True)


def _path(cid: str) -> str:
    return f"/v1/personal-data/{cid}"


def test_export_own_data_every_kind_and_access_logged(client, auth, feed):
    cid = feed.register()
    feed.assets(cid, 60_000_000)
    feed.transaction(cid, amount_fen=12345)
    segment = {"name": "有资产", "rule": {"field": "aum", "op": "gt", "value": "0.00"}}
    assert client.post("/v1/segments", json=segment, headers=auth("staff")).status_code == 201
    card = {"code": "CARD", "name": "Debit card", "category": "card", "needs_tag": "everyday_payments"}
    assert client.post("/v1/products", json=card, headers=auth("admin")).status_code == 201
    resp = client.get(_path(cid), headers=auth("customer", sub=cid))
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert (body["service"], body["customer_id"]) == ("segmentation", cid)
    data = body["data"]
    membership = data["membership"]
    assert membership["classes"]["asset_size"] == "mid_high" and membership["features"]["aum"] == "600000.00"
    assert [s["name"] for s in membership["segments"]] == ["有资产"]
    history = [(c["scheme"], c["from_class"], c["to_class"]) for c in data["membership_history"]]
    # oldest first: the class at registration, then the move the assets caused
    assert history.index(("asset_size", None, "ordinary")) < history.index(("asset_size", "ordinary", "mid_high"))
    assert [(d["txn_count"], d["amount"]) for d in data["daily_activity"]] == [(1, "123.45")]
    assert [r["product"]["code"] for r in data["recommendations"]] == ["CARD"]
    assert [(a["action"], a["actor_sub"]) for a in data["access_log"]] == [("personal_data.exported", cid)]
    again = client.get(_path(cid), headers=auth("supervisor", sub="sup-1")).json()["data"]["access_log"]
    assert [(a["actor_sub"], a["actor_role"]) for a in again] == [(cid, "customer"), ("sup-1", "supervisor")]


def test_export_unknown_customer_empty_data_still_logged(client, auth):
    data = client.get(_path(str(uuid.uuid4())), headers=auth("admin")).json()["data"]
    assert (data["membership"], data["membership_history"], data["recommendations"]) == (None, [], [])
    assert [a["actor_role"] for a in data["access_log"]] == ["admin"]


@SQLITE_ONLY
def test_export_refusals_401_403_404_422(client, auth):
    assert_refusals(client, auth)
