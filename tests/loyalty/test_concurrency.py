"""Racing redemptions with real threads on databases with real commits: stock is never oversold and
no balance is overdrawn, on SQLite and PostgreSQL."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from services.common.auth import Principal
from services.loyalty.app import create_app
from services.loyalty.service.accounts import check_balances, ensure_account
from services.loyalty.service.ledger import Posting, commit, credit
from tests.loyalty import factories as f
from tests.loyalty.conftest import loyalty_settings
from tests.organisation import place_customer

SUPERVISOR = Principal(sub="sup", role="supervisor")


def _accounts(app, n: int, points: int) -> list[str]:
    ids = [uuid.uuid4() for _ in range(n)]
    for cid in ids:  # in the staff token's branch, as profile's feed would tell loyalty
        place_customer("loyalty", app.state.db, str(cid))
    with app.state.db.write() as s:
        for cid in ids:
            account = ensure_account(s, cid, via="staff", policy=app.state.policy)
            credit(
                s,
                account,
                kind="adjust",
                points=points,
                policy=app.state.policy,
                posting=Posting(source="manual", reason="test funds"),
            )
        commit(s, app.state.policy)
    return [str(cid) for cid in ids]


def _race(client, auth, calls: list[tuple[str, str]]) -> list:
    start = threading.Barrier(len(calls))
    headers = auth("staff")

    def one(call):
        start.wait()
        return f.redeem(client, headers, *call)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


@pytest.fixture
def fresh_client(fresh_loyalty_db):
    app = create_app(loyalty_settings(fresh_loyalty_db.url), db=fresh_loyalty_db)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.app_ref = app
        yield c


def test_fifty_racing_redemptions_against_stock_five_sell_exactly_five(fresh_client, auth, fresh_loyalty_db):
    customers = _accounts(fresh_client.app_ref, 50, 100)
    reward = f.reward(fresh_client, auth, points_price=100, stock=5)
    results = _race(fresh_client, auth, [(cid, reward["id"]) for cid in customers])
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] * 5 + [409] * 45
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"reward_out_of_stock"}
    assert fresh_client.get(f"/v1/loyalty/rewards/{reward['id']}", headers=auth("staff")).json()["stock"] == 0
    assert sum(f.balance(fresh_client, auth, cid) for cid in customers) == 45 * 100
    assert check_balances(fresh_loyalty_db)[1] == []


def test_racing_redemptions_never_overdraw_one_balance(fresh_client, auth, fresh_loyalty_db):
    [cid] = _accounts(fresh_client.app_ref, 1, 300)
    reward = f.reward(fresh_client, auth, points_price=100, stock=None)
    results = _race(fresh_client, auth, [(cid, reward["id"])] * 20)
    assert sorted(r.status_code for r in results) == [201] * 3 + [409] * 17
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"points_insufficient"}
    assert f.balance(fresh_client, auth, cid) == 0
    assert check_balances(fresh_loyalty_db)[1] == []
