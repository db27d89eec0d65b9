"""Expiry with an injected clock: lots expire at the end of the 12th month after earning (bank
calendar), redemptions take the oldest points first, the job is safe to run twice; the ledger check."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from services.loyalty.tools import check
from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY


def _expiring(client, auth, cid, within="30d", role="staff"):
    return client.get(f"/v1/loyalty/accounts/{cid}/expiring", params={"within": within}, headers=auth(role))


def test_points_expire_at_the_end_of_the_twelfth_month_on_the_bank_calendar(client, auth, clock):
    cid = f.enrol(client, auth)
    clock.set(datetime(2026, 3, 31, 17, 0, tzinfo=UTC))  # 1 April 01:00 in Beijing
    f.give(client, auth, cid, 100)
    [lot] = _expiring(client, auth, cid, "999d").json()["lots"]
    assert lot["expires_at"] == "2027-04-30T16:00:00Z"  # 1 May 2027 00:00 Beijing


def test_redemption_consumes_oldest_points_first_and_expiry_takes_the_rest(client, auth, clock):
    cid = f.enrol(client, auth)
    clock.set(datetime(2026, 1, 15, 2, tzinfo=UTC))
    f.give(client, auth, cid, 100)  # expires 2027-02-01 Beijing
    clock.set(datetime(2026, 6, 15, 2, tzinfo=UTC))
    f.give(client, auth, cid, 100)  # expires 2027-07-01 Beijing
    reward = f.reward(client, auth, points_price=60, stock=None)
    assert f.redeem(client, auth("staff"), cid, reward["id"]).status_code == 201
    clock.set(datetime(2027, 1, 10, 2, tzinfo=UTC))
    soon = _expiring(client, auth, cid, "30d").json()
    assert soon["total"] == 40 and [(x["points"], x["remaining"]) for x in soon["lots"]] == [(100, 40)]
    clock.set(datetime(2027, 2, 1, 0, tzinfo=UTC))  # 08:00 on 1 February in Beijing: the first lot is due
    run = client.post("/v1/loyalty/expiry-runs", headers=auth("system")).json()
    assert (run["accounts"], run["points"]) == (1, 40)
    assert client.post("/v1/loyalty/expiry-runs", headers=auth("admin")).json()["points"] == 0  # twice: safe
    top = client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"][0]
    assert (top["kind"], top["points"], top["balance_after"]) == ("expire", -40, 100)
    assert _expiring(client, auth, cid, "30d").json()["total"] == 0
    feed = client.get("/v1/events", headers=auth("system")).json()["items"]
    assert [e["data"]["points"] for e in feed if e["type"] == "points.expired"] == [40]
    assert "loyalty_points_expired_total 40.0" in client.get("/metrics").text


def test_a_debit_expires_due_points_before_taking_any(client, auth, clock):
    cid = f.enrol(client, auth)
    f.give(client, auth, cid, 100)
    clock.set(datetime(2028, 1, 1, tzinfo=UTC))
    reward = f.reward(client, auth, points_price=60)
    resp = f.redeem(client, auth("staff"), cid, reward["id"])
    assert resp.status_code == 409 and resp.json()["code"] == "points_insufficient"
    assert f.balance(client, auth, cid) == 100  # the refused redemption rolled its expiry back too


def test_expiring_errors_and_roles(client, auth):
    cid = f.enrol(client, auth)
    assert _expiring(client, auth, cid, "30d", role="system").status_code == 200
    assert client.get(f"/v1/loyalty/accounts/{cid}/expiring", headers=auth("customer", sub=cid)).status_code == 200
    for bad in ("30", "0d", "1000d", "30w", "-1d"):
        resp = _expiring(client, auth, cid, bad)
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "within"], bad
    assert _expiring(client, auth, str(uuid.uuid4())).status_code == 404
    assert _expiring(client, auth, cid, role="customer").status_code == 404
    assert client.get(f"/v1/loyalty/accounts/{cid}/expiring").status_code == 401


@SQLITE_ONLY
@pytest.mark.parametrize("path", ["/v1/loyalty/expiry-runs", "/v1/loyalty/ledger-checks"])
def test_jobs_refuse_staff_and_customers(client, auth, path):
    assert client.post(path, headers=auth("staff")).status_code == 403
    if path.endswith("expiry-runs"):  # bank-wide: not a branch supervisor's to run
        assert client.post(path, headers=auth("supervisor")).status_code == 403
    assert client.post(path, headers=auth("customer")).status_code == 403
    assert client.post(path).status_code == 401


# SQLite only: the command opens its own connection, which cannot see a rolled-back test transaction.
@pytest.mark.parametrize("loyalty_db", ["sqlite"], indirect=True)
def test_ledger_check_finds_a_tampered_balance_and_exits_1(client, auth, loyalty_db, capsys):
    cid = f.funded(client, auth, 100)
    f.funded(client, auth, 50)
    assert check.main(loyalty_db.url) == 0
    ok = client.post("/v1/loyalty/ledger-checks", headers=auth("supervisor")).json()
    assert ok == {"accounts_checked": 2, "mismatches": []}
    with loyalty_db.write() as s:
        s.execute(text("UPDATE points_account SET balance = 999 WHERE customer_id = :c"), {"c": uuid.UUID(cid).hex})
        s.commit()
    assert check.main(loyalty_db.url) == 1
    assert f"MISMATCH {cid}: stored 999, ledger 100, lots 100" in capsys.readouterr().out
    bad = client.post("/v1/loyalty/ledger-checks", headers=auth("system")).json()
    assert bad["mismatches"] == [{"customer_id": cid, "stored": 999, "ledger": 100, "lots": 100}]
    assert "loyalty_ledger_mismatched_accounts 1.0" in client.get("/metrics").text
