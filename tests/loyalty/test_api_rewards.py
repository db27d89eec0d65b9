"""The rewards catalogue, redemptions, vouchers and cancellation."""

import uuid
from datetime import timedelta

import pytest

from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY
from tests.organisation import place_customer


def test_create_reward_as_supervisor_and_read_it(client, auth):
    resp = client.post(
        "/v1/loyalty/rewards",
        headers=auth("supervisor"),
        json={
            "code": "fee-waiver",
            "name": "Transfer fee waiver",
            "type": "voucher",
            "points_price": 300,
            "eligible_tiers": ["gold", "platinum"],
            "per_customer_limit": 2,
        },
    )
    assert resp.status_code == 201 and resp.headers["etag"] == '"1"'
    body = resp.json()
    assert (body["voucher_valid_days"], body["stock"], body["cancel_window_hours"]) == (30, None, 24)
    assert client.get(f"/v1/loyalty/rewards/{body['id']}", headers=auth("customer")).json() == body


@SQLITE_ONLY
@pytest.mark.parametrize(
    "change, field",
    [
        ({"type": "car"}, "type"),
        ({"points_price": 0}, "points_price"),
        ({"stock": -1}, "stock"),
        ({"voucher_valid_days": 10}, "voucher_valid_days"),
        ({"eligible_tiers": ["diamond"]}, "eligible_tiers"),
        ({"eligible_segments": ["bad segment"]}, "eligible_segments"),
        ({"per_customer_limit": 0}, "per_customer_limit"),
        ({"active_from": "2026-05-01T00:00:00Z", "active_until": "2026-04-01T00:00:00Z"}, "active_from"),
        ({"cancel_window_hours": 1000}, "cancel_window_hours"),
        ({"code": "-x"}, "code"),
    ],
)
def test_create_reward_bad_input_is_422_naming_the_field(client, auth, change, field):
    body = {"code": "gift-1", "name": "Umbrella", "type": "gift", "points_price": 10, **change}
    resp = client.post("/v1/loyalty/rewards", json=body, headers=auth("supervisor"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["loc"][:2] == ["body", field]


def test_create_reward_errors_by_code_and_role(client, auth):
    f.reward(client, auth, code="same")
    body = {"code": "same", "name": "Umbrella", "type": "gift", "points_price": 10}
    resp = client.post("/v1/loyalty/rewards", json=body, headers=auth("supervisor"))
    assert resp.status_code == 409 and resp.json()["code"] == "reward_code_taken"
    assert client.post("/v1/loyalty/rewards", json=body, headers=auth("staff")).status_code == 403
    assert client.post("/v1/loyalty/rewards", json=body).status_code == 401


def test_update_reward_with_if_match(client, auth):
    reward = f.reward(client, auth)
    url = f"/v1/loyalty/rewards/{reward['id']}"
    resp = client.patch(url, json={"stock": 3, "points_price": 120}, headers={**auth("supervisor"), "If-Match": '"1"'})
    assert resp.status_code == 200 and resp.headers["etag"] == '"2"'
    assert (resp.json()["stock"], resp.json()["points_price"]) == (3, 120)
    assert client.patch(url, json={"stock": 4}, headers=auth("supervisor")).status_code == 428
    assert client.patch(url, json={"stock": 4}, headers={**auth("supervisor"), "If-Match": '"1"'}).status_code == 412
    resp = client.patch(url, json={"name": None}, headers={**auth("supervisor"), "If-Match": '"2"'})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "name"]
    resp = client.patch(
        url, json={"active_until": "2025-01-01T00:00:00Z"}, headers={**auth("supervisor"), "If-Match": '"2"'}
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "active_until"]
    other = f"/v1/loyalty/rewards/{uuid.uuid4()}"
    assert client.patch(other, json={"stock": 1}, headers={**auth("supervisor"), "If-Match": '"1"'}).status_code == 404
    assert client.patch(url, json={"stock": 1}, headers={**auth("staff"), "If-Match": '"2"'}).status_code == 403


def test_list_rewards_shows_the_available_catalogue_by_code(client, auth, clock):
    f.reward(client, auth, code="b-later", active_from=(clock() + timedelta(days=5)).isoformat())
    f.reward(client, auth, code="a-now")
    retired = f.reward(client, auth, code="c-retired")
    f.retire_reward(client, auth, retired["id"])
    listed = client.get("/v1/loyalty/rewards", headers=auth("customer")).json()
    assert [r["code"] for r in listed["items"]] == ["a-now"]
    everything = client.get(
        "/v1/loyalty/rewards", params={"available_only": False, "limit": 2}, headers=auth("staff")
    ).json()
    assert [r["code"] for r in everything["items"]] == ["a-now", "b-later"] and everything["next_cursor"]
    assert client.get("/v1/loyalty/rewards").status_code == 401
    assert client.get(f"/v1/loyalty/rewards/{uuid.uuid4()}", headers=auth("staff")).status_code == 404


def test_redeem_gift_as_customer_debits_points_and_stock(client, auth):
    cid = f.funded(client, auth, 500)
    reward = f.reward(client, auth, points_price=150, stock=5)
    resp = f.redeem(client, auth("customer", sub=cid), cid, reward["id"], quantity=2)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["points"], body["status"], body["voucher_code"]) == (300, "completed", None)
    assert f.balance(client, auth, cid) == 200
    assert client.get(f"/v1/loyalty/rewards/{reward['id']}", headers=auth("staff")).json()["stock"] == 3
    top = client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"][0]
    assert (top["kind"], top["points"], top["source_ref"]) == ("redeem", -300, body["id"])
    assert client.get(f"/v1/loyalty/redemptions/{body['id']}", headers=auth("customer", sub=cid)).json() == body
    mine = client.get(f"/v1/loyalty/accounts/{cid}/redemptions", headers=auth("customer", sub=cid)).json()
    assert [r["id"] for r in mine["items"]] == [body["id"]]
    metrics = client.get("/metrics").text
    assert "loyalty_points_redeemed_total 300.0" in metrics
    assert f'loyalty_redemptions_total{{reward="{reward["code"]}"}} 1.0' in metrics


def test_redeem_for_another_customer_as_customer_is_404(client, auth):
    cid, other = f.funded(client, auth, 500), f.funded(client, auth, 500)
    reward = f.reward(client, auth)
    resp = f.redeem(client, auth("customer", sub=cid), other, reward["id"])
    assert resp.status_code == 404 and f.balance(client, auth, other) == 500


@SQLITE_ONLY
@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_redeem_on_behalf_as_staff_roles(client, auth, role):
    cid = f.funded(client, auth, 500)
    assert f.redeem(client, auth(role), cid, f.reward(client, auth)["id"]).status_code == 201


def test_redeem_as_system_is_403_and_without_token_401(client, auth):
    cid = f.funded(client, auth, 500)
    reward = f.reward(client, auth)
    assert f.redeem(client, auth("system"), cid, reward["id"]).status_code == 403
    assert f.redeem(client, {}, cid, reward["id"]).status_code == 401


@pytest.mark.parametrize(
    "setup, code",
    [
        ({"points": 99}, "points_insufficient"),
        ({"stock": 0}, "reward_out_of_stock"),
        ({"eligible_tiers": ["gold"]}, "reward_not_eligible"),
        ({"eligible_segments": ["asset_size:major"]}, "reward_not_eligible"),
        ({"active_until": "2026-02-01T00:00:00Z"}, "reward_unavailable"),
    ],
)
def test_redeem_refusals_are_409_and_change_nothing(client, auth, setup, code):
    setup = dict(setup)  # parameters are shared between backends
    cid = f.funded(client, auth, setup.pop("points", 1000))
    reward = f.reward(client, auth, points_price=100, **setup)
    resp = f.redeem(client, auth("staff"), cid, reward["id"])
    assert resp.status_code == 409 and resp.json()["code"] == code
    assert f.balance(client, auth, cid) in (99, 1000)
    assert client.get(f"/v1/loyalty/rewards/{reward['id']}", headers=auth("staff")).json()["stock"] == reward["stock"]


def test_per_customer_limit_counts_completed_redemptions(client, auth):
    cid = f.funded(client, auth, 1000)
    reward = f.reward(client, auth, per_customer_limit=2)
    assert f.redeem(client, auth("staff"), cid, reward["id"], quantity=2).status_code == 201
    resp = f.redeem(client, auth("staff"), cid, reward["id"])
    assert resp.status_code == 409 and resp.json()["code"] == "reward_limit_reached"


def test_redeem_unknown_reward_or_account_is_404_and_frozen_is_409(client, auth, loyalty_app):
    cid = f.funded(client, auth, 1000)
    reward = f.reward(client, auth)
    resp = f.redeem(client, auth("staff"), cid, str(uuid.uuid4()))
    assert resp.status_code == 404 and resp.json()["code"] == "reward_not_found"
    stranger = str(uuid.uuid4())
    resp = f.redeem(client, auth("staff"), stranger, reward["id"])
    # a customer loyalty has not heard of from profile is in no branch, so out of every staff member's reach
    assert resp.status_code == 404 and resp.json()["code"] == "customer_not_found"
    place_customer("loyalty", client.app.state.db, stranger)
    resp = f.redeem(client, auth("staff"), stranger, reward["id"])
    assert resp.status_code == 404 and resp.json()["code"] == "account_not_found"
    f.consumer(loyalty_app).apply([f.event("customer.closed", cid, {"customer_no": "1", "reason": None})])
    resp = f.redeem(client, auth("staff"), cid, reward["id"])
    assert resp.status_code == 409 and resp.json()["code"] == "account_frozen"


@SQLITE_ONLY
@pytest.mark.parametrize(
    "change, field", [({"quantity": 0}, "quantity"), ({"quantity": 11}, "quantity"), ({"reward_id": "x"}, "reward_id")]
)
def test_redeem_bad_body_is_422(client, auth, change, field):
    cid = f.funded(client, auth, 100)
    body = {"customer_id": cid, "reward_id": str(uuid.uuid4()), **change}
    resp = client.post("/v1/loyalty/redemptions", json=body, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


def test_redeem_with_idempotency_key_is_safe_to_retry(client, auth):
    cid = f.funded(client, auth, 1000)
    reward = f.reward(client, auth)
    headers = {**auth("customer", sub=cid), "Idempotency-Key": "tap-1"}
    first = f.redeem(client, headers, cid, reward["id"])
    again = f.redeem(client, headers, cid, reward["id"])
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert f.balance(client, auth, cid) == 900
    resp = f.redeem(client, headers, cid, reward["id"], quantity=2)
    assert resp.status_code == 409 and resp.json()["code"] == "idempotency_key_reused"
    resp = f.redeem(client, {**headers, "Idempotency-Key": "bad key"}, cid, reward["id"])
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_voucher_has_a_unique_code_used_once(client, auth, clock):
    cid = f.funded(client, auth, 1000)
    reward = f.reward(client, auth, type="voucher", stock=None, voucher_valid_days=7)
    codes = {f.redeem(client, auth("staff"), cid, reward["id"]).json()["voucher_code"] for _ in range(3)}
    assert len(codes) == 3 and all(c.startswith("V") and len(c) == 13 for c in codes)
    code = codes.pop()
    used = client.post(f"/v1/loyalty/vouchers/{code}/use", headers=auth("staff"))
    assert used.status_code == 200 and used.json()["voucher_used_at"] == clock().isoformat().replace("+00:00", "Z")
    again = client.post(f"/v1/loyalty/vouchers/{code}/use", headers=auth("system"))
    assert again.status_code == 409 and again.json()["code"] == "voucher_used"
    clock.advance(days=8)
    late = client.post(f"/v1/loyalty/vouchers/{codes.pop()}/use", headers=auth("staff"))
    assert late.status_code == 409 and late.json()["code"] == "voucher_expired"
    assert client.post("/v1/loyalty/vouchers/V222222222222/use", headers=auth("staff")).status_code == 404
    assert client.post("/v1/loyalty/vouchers/lowercase/use", headers=auth("staff")).status_code == 422
    assert client.post(f"/v1/loyalty/vouchers/{codes.pop()}/use", headers=auth("customer")).status_code == 403


def test_cancel_within_window_returns_points_to_their_lots_and_stock(client, auth, clock):
    cid = f.funded(client, auth, 500)
    reward = f.reward(client, auth, points_price=200, stock=1, cancel_window_hours=2)
    redemption = f.redeem(client, auth("customer", sub=cid), cid, reward["id"]).json()
    clock.advance(hours=1)
    resp = client.post(f"/v1/loyalty/redemptions/{redemption['id']}/cancel", headers=auth("customer", sub=cid))
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert f.balance(client, auth, cid) == 500
    assert client.get(f"/v1/loyalty/rewards/{reward['id']}", headers=auth("staff")).json()["stock"] == 1
    top = client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"][0]
    assert (top["kind"], top["points"], top["balance_after"]) == ("reverse", 200, 500)
    again = client.post(f"/v1/loyalty/redemptions/{redemption['id']}/cancel", headers=auth("staff"))
    assert again.status_code == 409 and again.json()["code"] == "redemption_cancelled"
    assert client.post("/v1/loyalty/ledger-checks", headers=auth("supervisor")).json()["mismatches"] == []


def test_cancel_refusals(client, auth, clock):
    cid = f.funded(client, auth, 1000)
    gift = f.reward(client, auth, cancel_window_hours=1)
    voucher = f.reward(client, auth, type="voucher", stock=None)
    late = f.redeem(client, auth("staff"), cid, gift["id"]).json()
    used = f.redeem(client, auth("staff"), cid, voucher["id"]).json()
    client.post(f"/v1/loyalty/vouchers/{used['voucher_code']}/use", headers=auth("staff"))
    resp = client.post(f"/v1/loyalty/redemptions/{used['id']}/cancel", headers=auth("staff"))
    assert resp.status_code == 409 and resp.json()["code"] == "voucher_used"
    resp = client.post(f"/v1/loyalty/redemptions/{late['id']}/cancel", headers=auth("customer"))
    assert resp.status_code == 404  # another customer's redemption looks absent
    clock.advance(hours=2)
    resp = client.post(f"/v1/loyalty/redemptions/{late['id']}/cancel", headers=auth("staff"))
    assert resp.status_code == 409 and resp.json()["code"] == "cancel_window_closed"
    assert client.post(f"/v1/loyalty/redemptions/{uuid.uuid4()}/cancel", headers=auth("staff")).status_code == 404
    assert client.post(f"/v1/loyalty/redemptions/{late['id']}/cancel", headers=auth("system")).status_code == 403
    assert client.get(f"/v1/loyalty/redemptions/{late['id']}", headers=auth("customer")).status_code == 404
    assert client.get(f"/v1/loyalty/redemptions/{uuid.uuid4()}", headers=auth("staff")).status_code == 404


def test_redeemed_event_is_on_the_feed(client, auth):
    cid = f.funded(client, auth, 500)
    reward = f.reward(client, auth, points_price=120)
    redemption = f.redeem(client, auth("staff"), cid, reward["id"]).json()
    feed = client.get("/v1/events", headers=auth("system")).json()["items"]
    [event] = [e for e in feed if e["type"] == "points.redeemed"]
    assert event["data"] == {
        "entry_id": redemption["entry_id"],
        "redemption_id": redemption["id"],
        "reward_id": reward["id"],
        "points": 120,
        "balance": 380,
    }


@SQLITE_ONLY
def test_forged_redemption_cursor_is_422_naming_cursor(client, auth):
    from services.common.pagination import encode_cursor

    cid = f.enrol(client, auth)
    for forged in (
        encode_cursor(["not a time", "x"]),
        encode_cursor(["2026-03-10T02:00:00+00:00", "not-a-uuid"]),
        encode_cursor(["2026-03-10T02:00:00", "00000000-0000-0000-0000-000000000001"]),
    ):
        resp = client.get(f"/v1/loyalty/accounts/{cid}/redemptions", params={"cursor": forged}, headers=auth("staff"))
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "cursor"]
    resp = client.get("/v1/loyalty/customer-events", params={"cursor": forged}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_redemptions_page_newest_first(client, auth, clock):
    cid = f.funded(client, auth, 1000)
    reward = f.reward(client, auth)
    ids = []
    for _ in range(3):
        ids.append(f.redeem(client, auth("staff"), cid, reward["id"]).json()["id"])
        clock.advance(minutes=1)
    first = client.get(f"/v1/loyalty/accounts/{cid}/redemptions", params={"limit": 2}, headers=auth("staff")).json()
    rest = client.get(
        f"/v1/loyalty/accounts/{cid}/redemptions",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=auth("staff"),
    ).json()
    assert [r["id"] for r in first["items"] + rest["items"]] == ids[::-1] and rest["next_cursor"] is None
    assert client.get(f"/v1/loyalty/accounts/{uuid.uuid4()}/redemptions", headers=auth("staff")).status_code == 404


def test_every_debit_and_restore_is_on_the_feed_with_the_balance(client, auth):
    cid = f.funded(client, auth, 500)
    reward = f.reward(client, auth, points_price=120)
    redemption = f.redeem(client, auth("staff"), cid, reward["id"]).json()
    adjust = {"points": -30, "reason": "goodwill corrected"}
    assert client.post(f"/v1/loyalty/accounts/{cid}/adjustments", json=adjust, headers=auth("staff")).status_code == 201
    assert client.post(f"/v1/loyalty/redemptions/{redemption['id']}/cancel", headers=auth("staff")).status_code == 200
    balance = client.get(f"/v1/loyalty/accounts/{cid}", headers=auth("staff")).json()["balance"]
    feed = [e for e in client.get("/v1/events", headers=auth("system")).json()["items"] if e["subject_id"] == cid]
    assert [e["type"] for e in feed] == ["points.earned", "points.redeemed", "points.debited", "points.restored"]
    assert [e["data"]["balance"] for e in feed] == [500, 380, 350, 470]
    assert feed[-1]["data"]["balance"] == balance == 470
    assert (feed[2]["data"]["kind"], feed[2]["data"]["points"]) == ("adjust", 30)
    assert (feed[3]["data"]["kind"], feed[3]["data"]["points"], feed[3]["data"]["source"]) == (
        "reverse",
        120,
        "redemption",
    )
