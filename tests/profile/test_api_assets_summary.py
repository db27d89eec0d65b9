"""Asset snapshots (assets.updated) and the customer summary computed by the database."""

import uuid
from datetime import UTC, datetime

import pytest

from tests.profile import factories as f

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(profile_app):
    profile_app.state.clock = lambda: NOW


@pytest.fixture
def customer(client, auth):
    return f.register(client, auth("staff"))


def _put(client, auth, cid, day, aum, role="system"):
    return client.put(f"/v1/customers/{cid}/assets/{day}", json={"aum": aum}, headers=auth(role))


def _asset_events(client, auth):
    items = client.get("/v1/events", headers=auth("system")).json()["items"]
    return [e for e in items if e["type"] == "assets.updated"]


def test_snapshot_is_created_then_replaced_with_one_event_per_change(client, auth, customer):
    first = _put(client, auth, customer["id"], "2026-11-27", "1234567.89")
    assert first.status_code == 201
    assert first.json()["aum"] == "1234567.89" and first.json()["aum_fen"] == 123456789
    assert _put(client, auth, customer["id"], "2026-11-27", "1234567.89").status_code == 200
    assert _put(client, auth, customer["id"], "2026-11-27", "1000.00").status_code == 200
    events = _asset_events(client, auth)
    assert [e["data"] for e in events] == [
        {"as_of_date": "2026-11-27", "aum": "1234567.89", "aum_fen": 123456789},
        {"as_of_date": "2026-11-27", "aum": "1000.00", "aum_fen": 100000},
    ]
    assert events[0]["subject_id"] == customer["id"]


def test_snapshots_list_newest_first(client, auth, customer):
    for day in ("2026-11-01", "2026-11-20", "2026-11-10"):
        _put(client, auth, customer["id"], day, "5.00")
    page = client.get(f"/v1/customers/{customer['id']}/assets", params={"limit": 2}, headers=auth("staff")).json()
    assert [a["as_of_date"] for a in page["items"]] == ["2026-11-20", "2026-11-10"]
    rest = client.get(
        f"/v1/customers/{customer['id']}/assets", params={"cursor": page["next_cursor"]}, headers=auth("staff")
    ).json()
    assert [a["as_of_date"] for a in rest["items"]] == ["2026-11-01"]


@pytest.mark.parametrize(
    "day, body, loc",
    [
        ("2026-11-29", {"aum": "1.00"}, ["path", "as_of_date"]),
        ("2026-13-01", {"aum": "1.00"}, ["path", "as_of_date"]),
        ("2026-11-01", {"aum": "-1.00"}, ["body", "aum"]),
        ("2026-11-01", {"aum": 1}, ["body", "aum"]),
        ("2026-11-01", {"aum": "1.00", "x": 1}, ["body", "x"]),
    ],
)
def test_bad_snapshot_is_422_naming_the_field(client, auth, customer, day, body, loc):
    resp = client.put(f"/v1/customers/{customer['id']}/assets/{day}", json=body, headers=auth("system"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == loc


def test_snapshot_for_unknown_customer_is_404(client, auth):
    assert _put(client, auth, uuid.uuid4(), "2026-11-01", "1.00").status_code == 404


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor"])
def test_snapshot_by_non_system_role_is_403(client, auth, customer, role):
    assert _put(client, auth, customer["id"], "2026-11-01", "1.00", role=role).status_code == 403


def test_snapshot_without_token_is_401(client, customer):
    assert client.put(f"/v1/customers/{customer['id']}/assets/2026-11-01", json={"aum": "1.00"}).status_code == 401


def test_assets_customer_reads_own_not_others(client, auth, customer):
    other = f.register(client, auth("staff"))
    mine = auth("customer", sub=customer["id"])
    assert client.get(f"/v1/customers/{customer['id']}/assets", headers=mine).status_code == 200
    assert client.get(f"/v1/customers/{other['id']}/assets", headers=mine).status_code == 404
    assert client.get(f"/v1/customers/{uuid.uuid4()}/assets", headers=auth("staff")).status_code == 404
    assert client.get(f"/v1/customers/{customer['id']}/assets").status_code == 401


def test_summary_counts_and_sums_by_kind_and_channel_over_30_and_90_days(client, auth, customer):
    other = f.register(client, auth("staff"))
    items = [
        f.txn(customer["id"], kind="deposit", channel="counter", amount="100.00", occurred_at="2026-11-27T00:00:00Z"),
        f.txn(customer["id"], kind="deposit", channel="mobile", amount="50.50", occurred_at="2026-11-01T00:00:00Z"),
        f.txn(customer["id"], kind="transfer", channel="mobile", amount="20.00", occurred_at="2026-10-01T00:00:00Z"),
        f.txn(customer["id"], kind="withdrawal", channel="atm", amount="7.00", occurred_at="2026-07-01T00:00:00Z"),
        f.txn(other["id"], kind="deposit", channel="atm", amount="999.00", occurred_at="2026-11-27T00:00:00Z"),
    ]
    f.ingest(client, auth("system"), items)
    _put(client, auth, customer["id"], "2026-10-31", "10.00")
    _put(client, auth, customer["id"], "2026-11-27", "88.80")
    resp = client.get(f"/v1/customers/{customer['id']}/summary", headers=auth("staff"))
    assert resp.status_code == 200
    s = resp.json()
    assert (s["aum"], s["aum_fen"], s["aum_as_of_date"]) == ("88.80", 8880, "2026-11-27")
    assert s["last_transaction_at"] == "2026-11-27T00:00:00Z"
    w30, w90 = s["windows"]
    assert (w30["days"], w30["count"], w30["amount"]) == (30, 2, "150.50")
    assert w30["by_kind"] == [{"key": "deposit", "count": 2, "amount": "150.50", "amount_fen": 15050}]
    assert [(b["key"], b["count"], b["amount"]) for b in w30["by_channel"]] == [
        ("counter", 1, "100.00"),
        ("mobile", 1, "50.50"),
    ]
    assert (w90["days"], w90["count"], w90["amount_fen"]) == (90, 3, 17050)
    assert [(b["key"], b["count"]) for b in w90["by_kind"]] == [("deposit", 2), ("transfer", 1)]
    assert [(b["key"], b["count"], b["amount"]) for b in w90["by_channel"]] == [
        ("counter", 1, "100.00"),
        ("mobile", 2, "70.50"),
    ]


def test_summary_of_customer_without_data_is_empty(client, auth, customer):
    s = client.get(f"/v1/customers/{customer['id']}/summary", headers=auth("customer", sub=customer["id"])).json()
    assert s["aum"] is None and s["last_transaction_at"] is None
    assert [(w["count"], w["amount"], w["by_kind"]) for w in s["windows"]] == [(0, "0.00", []), (0, "0.00", [])]


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin", "system"])
def test_summary_as_each_reader_role(client, auth, customer, role):
    assert client.get(f"/v1/customers/{customer['id']}/summary", headers=auth(role)).status_code == 200


def test_summary_errors(client, auth, customer):
    other = f.register(client, auth("staff"))
    url = f"/v1/customers/{other['id']}/summary"
    assert client.get(url, headers=auth("customer", sub=customer["id"])).status_code == 404
    assert client.get(f"/v1/customers/{uuid.uuid4()}/summary", headers=auth("staff")).status_code == 404
    assert client.get(url).status_code == 401
    bad = client.get("/v1/customers/nope/summary", headers=auth("staff"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["path", "customer_id"]


def test_summary_nets_reversals_as_segmentation_does(client, auth, customer):
    kept = f.txn(customer["id"], kind="deposit", amount="6000000.00", occurred_at="2026-11-20T00:00:00Z")
    reversed_ = f.txn(customer["id"], kind="withdrawal", amount="2000000.00", occurred_at="2026-11-25T00:00:00Z")
    f.ingest(client, auth("system"), [kept, reversed_])
    reversal = f.txn(
        customer["id"],
        kind="reversal",
        amount="2000000.00",
        reverses_external_id=reversed_["external_id"],
        occurred_at="2026-11-26T00:00:00Z",
    )
    f.ingest(client, auth("system"), [reversal])
    s = client.get(f"/v1/customers/{customer['id']}/summary", headers=auth("staff")).json()
    w30 = s["windows"][0]
    assert (w30["count"], w30["amount"]) == (1, "6000000.00")  # not 3 and 10,000,000.00
    assert [b["key"] for b in w30["by_kind"]] == ["deposit"]
    assert s["last_transaction_at"] == "2026-11-20T00:00:00Z"  # the reversed one and its reversal left out
