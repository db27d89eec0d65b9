"""Transactions from core banking: batch ingest (idempotent replay, partial rejection, reversals),
the transaction.recorded events, and per-customer lists with the customer-sees-only-itself rule."""

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from services.profile.models import TransactionRecord, outbox
from services.profile.service.events import uuid7_strings
from tests.profile import factories as f

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(profile_app):
    profile_app.state.clock = lambda: NOW


@pytest.fixture
def customer(client, auth):
    return f.register(client, auth("staff"))


def _events(client, auth, type_="transaction.recorded"):
    items = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    return [e for e in items if e["type"] == type_]


def _count(profile_db, table=TransactionRecord.__table__):
    with profile_db.read() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_batch_stores_every_record_and_emits_one_event_each(client, auth, customer, profile_db):
    items = [f.txn(customer["id"], amount=f"{i + 1}.50") for i in range(5)]
    result = f.ingest(client, auth("system"), items)
    assert (result["recorded_count"], result["duplicate_count"], result["rejected_count"]) == (5, 0, 0)
    assert [r["index"] for r in result["recorded"]] == list(range(5))
    events = _events(client, auth)
    assert len(events) == 5 and {e["subject_id"] for e in events} == {customer["id"]}
    first = events[0]["data"]
    assert first == {
        "transaction_id": result["recorded"][0]["transaction_id"],
        "external_id": items[0]["external_id"],
        "kind": "deposit",
        "amount": "1.50",
        "amount_fen": 150,
        "channel": "counter",
        "occurred_at": "2026-11-20T08:30:00Z",
        "customer_initiated": True,
        "reverses_external_id": None,
    }
    assert _count(profile_db) == 5


def test_event_data_is_stored_as_json_dumps_writes_it_for_every_shape_of_record(client, auth, customer, profile_db):
    """The batch path writes each event's JSON itself (services/profile/service/transactions.py): the
    stored text is byte for byte what json.dumps writes, whatever the offset, amount or flags."""
    original = f.txn(customer["id"], amount="7", occurred_at="2026-11-20T16:30:00.250000+08:00")
    items = [
        original,
        f.txn(customer["id"], kind="reversal", reverses_external_id=original["external_id"], amount="0.5"),
        f.txn(customer["id"], customer_initiated=False, channel="mobile", amount="12345678901.99"),
    ]
    result = f.ingest(client, auth("system"), items)
    ids = [r["transaction_id"] for r in result["recorded"]]
    expected = [
        {
            "transaction_id": ids[0],
            "external_id": original["external_id"],
            "kind": "deposit",
            "amount": "7.00",
            "amount_fen": 700,
            "channel": "counter",
            "occurred_at": "2026-11-20T08:30:00.250000Z",  # in UTC, as the event contract has it
            "customer_initiated": True,
            "reverses_external_id": None,
        },
        {
            "transaction_id": ids[1],
            "external_id": items[1]["external_id"],
            "kind": "reversal",
            "amount": "0.50",
            "amount_fen": 50,
            "channel": "counter",
            "occurred_at": "2026-11-20T08:30:00Z",
            "customer_initiated": True,
            "reverses_external_id": original["external_id"],
        },
        {
            "transaction_id": ids[2],
            "external_id": items[2]["external_id"],
            "kind": "deposit",
            "amount": "12345678901.99",
            "amount_fen": 1234567890199,
            "channel": "mobile",
            "occurred_at": "2026-11-20T08:30:00Z",
            "customer_initiated": False,
            "reverses_external_id": None,
        },
    ]
    stored = "SELECT CAST(data AS TEXT) FROM outbox_event WHERE type = 'transaction.recorded' ORDER BY position"
    with profile_db.read() as s:
        assert list(s.execute(text(stored)).scalars()) == [json.dumps(e) for e in expected]
        first = s.execute(select(TransactionRecord).where(TransactionRecord.id == uuid.UUID(ids[0]))).scalar_one()
    assert first.occurred_at == datetime(2026, 11, 20, 8, 30, 0, 250000, tzinfo=UTC)
    assert (first.amount_fen, first.customer_initiated, first.reverses_external_id) == (700, True, None)


@pytest.mark.parametrize("char", ["\\", "\t", "\n", "\r", '"', " ", "é"])
@pytest.mark.parametrize("field", ["external_id", "reverses_external_id"])
def test_external_id_holding_what_copy_or_json_would_escape_is_refused(client, auth, customer, field, char):
    """The batch path writes COPY lines and event JSON itself, trusting external ids to hold letters,
    digits and `._:-` only: the schema must go on refusing anything else."""
    item = f.txn(customer["id"], kind="reversal", reverses_external_id="CB-ORIGINAL")
    item[field] = f"CB-1{char}2"
    result = f.ingest(client, auth("system"), [item])
    assert result["rejected"][0]["errors"][0]["loc"] == ["items", 0, field]


def test_new_ids_are_distinct_time_ordered_uuids_of_version_7():
    before = int(time.time() * 1000)
    ids = uuid7_strings(2000)
    later = uuid7_strings(1)[0]
    parsed = [uuid.UUID(i) for i in ids]
    assert len(set(ids)) == 2000 and [str(p) for p in parsed] == ids
    assert {p.version for p in parsed} == {7} and {p.variant for p in parsed} == {uuid.RFC_4122}
    assert before <= parsed[0].int >> 80 <= int(time.time() * 1000)  # the first 48 bits: Unix ms
    assert len({i[:13] for i in ids}) == 1 and later[:13] >= ids[0][:13]  # one batch, one millisecond
    assert len({i[14:] for i in ids}) == 2000  # the random part alone tells them apart


def test_replayed_batch_changes_nothing_and_names_duplicates(client, auth, customer, profile_db):
    items = [f.txn(customer["id"]) for _ in range(3)]
    first = f.ingest(client, auth("system"), items)
    again = f.ingest(client, auth("system"), items)
    assert again["recorded_count"] == 0 and again["duplicate_count"] == 3
    assert again["duplicates"] == first["recorded"]
    assert _count(profile_db) == 3 and len(_events(client, auth)) == 3


def test_same_external_id_with_other_content_is_rejected_as_conflict(client, auth, customer):
    item = f.txn(customer["id"])
    f.ingest(client, auth("system"), [item])
    result = f.ingest(client, auth("system"), [{**item, "amount": "999.00"}])
    assert result["rejected"][0]["code"] == "external_id_conflict" and result["recorded_count"] == 0


def test_bad_records_are_rejected_alone_with_index_and_reason(client, auth, customer, profile_db):
    good = [f.txn(customer["id"]) for _ in range(3)]
    items = [
        good[0],
        f.txn(customer["id"], amount="-5.00"),
        good[1],
        f.txn(customer["id"], kind="lottery"),
        f.txn(str(uuid.uuid4())),
        "not an object",
        f.txn(customer["id"], occurred_at="2026-11-29T12:00:00Z"),
        f.txn(customer["id"], amount="0.00"),
        {**good[0]},
        f.txn(customer["id"], occurred_at="2026-11-20T08:30:00"),
        f.txn(customer["id"], surprise=1),
        good[2],
    ]
    result = f.ingest(client, auth("system"), items)
    assert result["recorded_count"] == 3 and [r["index"] for r in result["recorded"]] == [0, 2, 11]
    rejected = {r["index"]: r for r in result["rejected"]}
    assert sorted(rejected) == [1, 3, 4, 5, 6, 7, 8, 9, 10]
    assert rejected[1]["errors"][0]["loc"] == ["items", 1, "amount"]
    assert rejected[3]["errors"][0]["loc"] == ["items", 3, "kind"]
    assert rejected[4]["code"] == "customer_not_found"
    assert rejected[5]["code"] == "validation_failed" and rejected[5]["external_id"] is None
    assert rejected[6]["errors"][0]["loc"] == ["items", 6, "occurred_at"]
    assert rejected[7]["errors"][0]["loc"] == ["items", 7, "amount"]
    assert rejected[8]["code"] == "external_id_repeated"
    assert rejected[9]["errors"][0]["loc"] == ["items", 9, "occurred_at"]
    assert rejected[10]["errors"][0]["loc"] == ["items", 10, "surprise"]
    assert _count(profile_db) == 3 and len(_events(client, auth)) == 3


def test_reversal_names_its_original_and_travels_in_the_event(client, auth, customer):
    original = f.txn(customer["id"], kind="withdrawal", channel="atm")
    reversal = f.txn(customer["id"], kind="reversal", reverses_external_id=original["external_id"])
    result = f.ingest(client, auth("system"), [original, reversal])
    assert result["recorded_count"] == 2
    assert _events(client, auth)[1]["data"]["reverses_external_id"] == original["external_id"]


@pytest.mark.parametrize(
    "make, code",
    [
        (
            lambda cid, other, orig: f.txn(cid, kind="reversal", reverses_external_id="NOPE-1"),
            "reversal_original_not_found",
        ),
        (
            lambda cid, other, orig: f.txn(other, kind="reversal", reverses_external_id=orig),
            "reversal_customer_mismatch",
        ),
    ],
)
def test_reversal_without_a_valid_original_is_rejected(client, auth, customer, make, code):
    other = f.register(client, auth("staff"))
    original = f.txn(customer["id"])
    f.ingest(client, auth("system"), [original])
    result = f.ingest(client, auth("system"), [make(customer["id"], other["id"], original["external_id"])])
    assert result["rejected"][0]["code"] == code


def test_reversal_of_a_reversal_is_rejected(client, auth, customer):
    original = f.txn(customer["id"])
    rev = f.txn(customer["id"], kind="reversal", reverses_external_id=original["external_id"])
    rev2 = f.txn(customer["id"], kind="reversal", reverses_external_id=rev["external_id"])
    result = f.ingest(client, auth("system"), [original, rev, rev2])
    assert [r["code"] for r in result["rejected"]] == ["reversal_of_reversal"]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"kind": "reversal"}, "reverses_external_id"),
        ({"reverses_external_id": "CB-X"}, "reverses_external_id"),
        ({"external_id": "has space"}, "external_id"),
        ({"channel": "branch"}, "channel"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"customer_initiated": "maybe"}, "customer_initiated"),
        ({"customer_id": "nope"}, "customer_id"),
    ],
)
def test_record_rule_names_the_field(client, auth, customer, overrides, field):
    result = f.ingest(client, auth("system"), [{**f.txn(customer["id"]), **overrides}])
    assert result["rejected"][0]["errors"][0]["loc"] == ["items", 0, field]


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"items": []}, ["body", "items"]),
        ({}, ["body", "items"]),
        ({"items": "x"}, ["body", "items"]),
        ({"items": [{}], "extra": 1}, ["body", "extra"]),
    ],
)
def test_malformed_batch_is_422(client, auth, body, loc):
    resp = client.post("/v1/transactions:batch", json=body, headers=auth("system"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == loc


def test_batch_over_one_thousand_is_422(client, auth, customer):
    items = [f.txn(customer["id"]) for _ in range(1001)]
    resp = client.post("/v1/transactions:batch", json={"items": items}, headers=auth("system"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "items"]


def test_batch_of_one_thousand_is_stored_whole(client, auth, customer, profile_db):
    items = [f.txn(customer["id"], amount=f"{i + 1}.00") for i in range(1000)]
    assert f.ingest(client, auth("system"), items)["recorded_count"] == 1000
    with profile_db.read() as s:
        assert s.execute(select(func.count()).select_from(outbox)).scalar_one() == 1001  # + registration


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor"])
def test_batch_as_non_system_role_is_403(client, auth, role, customer):
    resp = client.post("/v1/transactions:batch", json={"items": [f.txn(customer["id"])]}, headers=auth(role))
    assert resp.status_code == 403


def test_batch_without_token_is_401(client, customer):
    assert client.post("/v1/transactions:batch", json={"items": [f.txn(customer["id"])]}).status_code == 401


def test_list_is_newest_first_and_pages(client, auth, customer):
    items = [f.txn(customer["id"], occurred_at=f"2026-11-{10 + i:02d}T08:00:00Z") for i in range(5)]
    f.ingest(client, auth("system"), items)
    seen, cursor = [], None
    while True:
        params = {"customer_id": customer["id"], "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/transactions", params=params, headers=auth("staff")).json()
        seen += [t["external_id"] for t in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [i["external_id"] for i in reversed(items)]


def test_list_filters_by_kind_channel_and_time(client, auth, customer):
    items = [
        f.txn(customer["id"], kind="deposit", channel="atm", occurred_at="2026-11-01T00:00:00Z"),
        f.txn(customer["id"], kind="transfer", channel="mobile", occurred_at="2026-11-05T00:00:00Z"),
        f.txn(customer["id"], kind="transfer", channel="online", occurred_at="2026-11-09T00:00:00Z"),
    ]
    f.ingest(client, auth("system"), items)

    def ids(**params):
        resp = client.get("/v1/transactions", params={"customer_id": customer["id"], **params}, headers=auth("staff"))
        return [t["external_id"] for t in resp.json()["items"]]

    assert ids(kind="transfer") == [items[2]["external_id"], items[1]["external_id"]]
    assert ids(channel="atm") == [items[0]["external_id"]]
    assert ids(**{"from": "2026-11-05T00:00:00Z", "to": "2026-11-09T00:00:00Z"}) == [items[1]["external_id"]]


def test_customer_reads_own_transactions(client, auth, customer):
    f.ingest(client, auth("system"), [f.txn(customer["id"])])
    resp = client.get(
        "/v1/transactions", params={"customer_id": customer["id"]}, headers=auth("customer", sub=customer["id"])
    )
    assert resp.status_code == 200 and len(resp.json()["items"]) == 1
    t = resp.json()["items"][0]
    assert t["amount"] == "100.00" and t["amount_fen"] == 10000


def test_customer_reading_another_customers_transactions_is_404(client, auth, customer):
    other = f.register(client, auth("staff"))
    resp = client.get(
        "/v1/transactions", params={"customer_id": other["id"]}, headers=auth("customer", sub=customer["id"])
    )
    assert resp.status_code == 404 and resp.json()["code"] == "customer_not_found"


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin", "system"])
def test_list_as_each_reader_role(client, auth, customer, role):
    resp = client.get("/v1/transactions", params={"customer_id": customer["id"]}, headers=auth(role))
    assert resp.status_code == 200 and resp.json() == {"items": [], "next_cursor": None}


def test_list_unknown_customer_is_404(client, auth):
    resp = client.get("/v1/transactions", params={"customer_id": str(uuid.uuid4())}, headers=auth("staff"))
    assert resp.status_code == 404


@pytest.mark.parametrize(
    "params, field",
    [({}, "customer_id"), ({"kind": "x"}, "kind"), ({"from": "yesterday"}, "from"), ({"cursor": "zz"}, "cursor")],
)
def test_list_bad_query_is_422(client, auth, customer, params, field):
    params = {"customer_id": customer["id"], **params} if field != "customer_id" else params
    resp = client.get("/v1/transactions", params=params, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", field]


def test_list_without_token_is_401(client, customer):
    assert client.get("/v1/transactions", params={"customer_id": customer["id"]}).status_code == 401
