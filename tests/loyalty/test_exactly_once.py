"""Exactly-once earning across a crash in the middle of a batch, on databases with real commits."""

import uuid

import pytest
from fastapi.testclient import TestClient

from services.common.db import utcnow
from services.loyalty.app import create_app
from services.loyalty.service import earning
from services.loyalty.service.accounts import check_balances, read_account
from tests.loyalty import factories as f
from tests.loyalty.conftest import loyalty_settings


def test_crash_mid_batch_then_restart_earns_each_transaction_once(fresh_loyalty_db, auth, monkeypatch):
    app = create_app(loyalty_settings(fresh_loyalty_db.url), db=fresh_loyalty_db, clock=utcnow)
    with TestClient(app) as client:
        cid = f.enrol(client, auth)
        f.rule(client, auth, points_per_100_cny=10)
    events = [f.txn(cid, 10_000, position=p) for p in range(1, 11)]
    assert f.consumer(app, db=fresh_loyalty_db).apply(events[:4]) == 4

    real = earning.earn_for_transaction
    calls = {"n": 0}

    def crashing(s, customer_id, txn, policy):
        calls["n"] += 1
        if calls["n"] == 3:  # the 7th event of the feed: after two of this batch were written
            raise RuntimeError("power cut")
        return real(s, customer_id, txn, policy)

    monkeypatch.setattr("services.loyalty.consumers.earn_for_transaction", crashing)
    with pytest.raises(RuntimeError):
        f.consumer(app, db=fresh_loyalty_db).apply(events)
    assert read_account(fresh_loyalty_db, customer_id=uuid.UUID(cid)).balance == 40  # the whole batch rolled back
    monkeypatch.setattr("services.loyalty.consumers.earn_for_transaction", real)

    restarted = f.consumer(app, db=fresh_loyalty_db)  # a new process: only the stored cursor survives
    assert restarted.position() == 4
    assert restarted.apply(events) == 6 and restarted.apply(events) == 0
    assert read_account(fresh_loyalty_db, customer_id=uuid.UUID(cid)).balance == 100
    assert check_balances(fresh_loyalty_db)[1] == []
