"""Dual control of points adjustments: beyond the per-adjustment limit, or beyond the maker's daily
total, an adjustment is a pending request until a supervisor or admin other than the maker approves it
(posted once, in the maker's name) or rejects it; one pending per account; requests expire; each step is
on the feed and in the audit chain; every route's success, declared errors and roles."""

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.common.audit_chain import verify
from services.common.branches import apply_branch_event
from services.loyalty.app import create_app
from services.loyalty.models import ADJUSTMENTS, audit_chain, branch
from tests.approvals_kit import check_decisions, check_expiry, check_routes, race_approvals, steps_on_feed_and_chain
from tests.loyalty import factories as f
from tests.loyalty.conftest import Clock, loyalty_settings
from tests.organisation import TREE


def _adjust(client, auth, cid, points, role="staff", sub="clerk-1", branch="BR0001", **headers):
    return client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments",
        json={"points": points, "reason": "客户投诉补偿积分"},
        headers=auth(role, sub=sub, branch=branch) | headers,
    )


def _approvals(client, auth, status="pending"):
    resp = client.get("/v1/loyalty/approvals", params={"status": status}, headers=auth("supervisor", sub="boss-1"))
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def test_over_the_limit_is_pending_until_another_supervisor_approves(client, auth, loyalty_db):
    cid = f.enrol(client, auth)
    pending = _adjust(client, auth, cid, 1500, role="supervisor", sub="boss-1")
    assert pending.status_code == 202, pending.text
    body = pending.json()
    assert (body["status"], body["why"], body["maker_sub"], body["payload"]["points"]) == (
        "pending", "over_limit", "boss-1", 1500
    )  # fmt: skip
    assert f.balance(client, auth, cid) == 0  # nothing posted yet
    assert [a["id"] for a in _approvals(client, auth)] == [body["id"]]

    own = client.post(f"/v1/loyalty/approvals/{body['id']}/approve", headers=auth("supervisor", sub="boss-1"))
    assert own.status_code == 403 and own.json()["code"] == "maker_cannot_decide"
    done = client.post(f"/v1/loyalty/approvals/{body['id']}/approve", headers=auth("supervisor", sub="boss-2"))
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["checker_sub"]) == ("approved", "boss-2")
    assert f.balance(client, auth, cid) == 1500
    entry = client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"][0]
    assert entry["id"] == done.json()["entry_id"] and entry["points"] == 1500
    again = client.post(f"/v1/loyalty/approvals/{body['id']}/approve", headers=auth("admin", sub="root"))
    assert again.status_code == 409 and again.json()["code"] == "approval_decided"
    assert f.balance(client, auth, cid) == 1500  # exactly once

    events = [e["type"] for e in client.get("/v1/events", headers=auth("system")).json()["items"]]
    assert events[-3:] == ["approval.requested", "approval.approved", "points.earned"] or events[-3:] == [
        "approval.requested", "points.earned", "approval.approved"
    ]  # fmt: skip
    with loyalty_db.read() as s:
        chain = [r.action for r in s.execute(select(audit_chain).order_by(audit_chain.c.seq))]
        assert verify(s, audit_chain, [ADJUSTMENTS]).intact
    assert chain == ["approval.requested", "points.adjusted", "approval.approved"]


def test_beyond_the_makers_daily_total_is_pending(client, auth):
    cid = f.enrol(client, auth)
    for _ in range(5):
        assert _adjust(client, auth, cid, 1000).status_code == 201  # 5,000 today: the cap
    sixth = _adjust(client, auth, cid, 1)
    assert sixth.status_code == 202 and sixth.json()["why"] == "over_daily_cap"
    assert _adjust(client, auth, f.enrol(client, auth), 1000, sub="clerk-2").status_code == 201  # per maker


def test_the_daily_total_starts_again_the_next_day(client, auth, clock):
    cid = f.enrol(client, auth)
    for _ in range(5):
        assert _adjust(client, auth, cid, 1000).status_code == 201
    clock.advance(days=1)
    assert _adjust(client, auth, cid, 1000).status_code == 201


def test_one_pending_request_per_account(client, auth):
    cid = f.enrol(client, auth)
    assert _adjust(client, auth, cid, 2000).status_code == 202
    second = _adjust(client, auth, cid, 3000, sub="clerk-2")
    assert second.status_code == 409 and second.json()["code"] == "approval_pending"
    assert _adjust(client, auth, f.enrol(client, auth), 2000).status_code == 202  # another account


def test_rejection_posts_nothing_and_needs_a_reason(client, auth):
    cid = f.enrol(client, auth)
    pid = _adjust(client, auth, cid, 2000).json()["id"]
    url = f"/v1/loyalty/approvals/{pid}/reject"
    missing = client.post(url, json={}, headers=auth("supervisor"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["body", "reason"]
    done = client.post(url, json={"reason": "金额与凭证不符"}, headers=auth("supervisor"))
    assert done.status_code == 200 and (done.json()["status"], done.json()["note"]) == ("rejected", "金额与凭证不符")
    assert f.balance(client, auth, cid) == 0
    assert client.post(url, json={"reason": "again please"}, headers=auth("supervisor")).status_code == 409
    assert _adjust(client, auth, cid, 2000).status_code == 202  # the slot is free again
    assert [a["id"] for a in _approvals(client, auth, "rejected")] == [pid]


def test_an_expired_request_cannot_be_approved_and_frees_the_account(client, auth, clock):
    cid = f.enrol(client, auth)
    pid = _adjust(client, auth, cid, 2000).json()["id"]
    clock.advance(hours=73)
    late = client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth("supervisor"))
    assert late.status_code == 409 and late.json()["code"] == "approval_expired"
    assert client.get(f"/v1/loyalty/approvals/{pid}", headers=auth("staff")).json()["status"] == "expired"
    assert _approvals(client, auth) == [] and [a["id"] for a in _approvals(client, auth, "expired")] == [pid]
    assert _adjust(client, auth, cid, 2000).status_code == 202


def test_a_checker_of_another_branch_cannot_decide(client, auth):
    cid = f.enrol(client, auth)
    resp = client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments",
        json={"points": 2000, "reason": "网点调整积分"},
        headers=auth("staff", sub="clerk-1", branch="BR0001"),
    )
    pid = resp.json()["id"]
    other = client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth("supervisor", branch="BR0002"))
    assert other.status_code == 404 and other.json()["code"] == "approval_not_found"  # out of reach
    seen = client.get("/v1/loyalty/approvals", headers=auth("supervisor", branch="BR0002")).json()["items"]
    assert pid not in [a["id"] for a in seen]  # nor in that branch's queue
    assert client.get(f"/v1/loyalty/approvals/{pid}", headers=auth("supervisor", branch="BR0002")).status_code == 404
    mine = client.get("/v1/loyalty/approvals", headers=auth("supervisor", branch="BR0001")).json()["items"]
    assert pid in [a["id"] for a in mine]
    same = client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth("supervisor", branch="BR0001"))
    assert same.status_code == 200
    pid2 = _adjust(client, auth, f.enrol(client, auth), 2000).json()["id"]
    assert client.post(f"/v1/loyalty/approvals/{pid2}/approve", headers=auth("admin", branch="HQ")).status_code == 200


def _copy_tree(db) -> None:
    """Loyalty's copy of the organisation tree, as profile's feed would leave it (tests.organisation)."""
    with db.write() as s:
        for code, name, level, parent in (("HQ0001", "总行", "head_office", None), *TREE):
            state = {"code": code, "name": name, "level": level, "parent_code": parent, "status": "open", "version": 1}
            apply_branch_event(s, branch, state, datetime.now(UTC))
        s.commit()


@pytest.mark.parametrize(
    ("maker_branch", "checker", "outcome"),
    [
        ("BJ0001", ("supervisor", "BJ0001"), 200),  # the maker's own outlet
        ("BJ0001", ("supervisor", "BR0001"), 200),  # its city branch
        ("BJ0001", ("supervisor", "TP0001"), 200),  # its province branch
        ("BJ0001", ("supervisor", "HQ0001"), 200),  # a supervisor at head office: the root is an ancestor
        ("BJ0001", ("supervisor", "BJ0002"), 404),  # a sibling outlet: out of reach, not there for it
        ("BJ0001", ("supervisor", "TP0002"), 404),  # another province
        ("BR0001", ("supervisor", "BJ0001"), 404),  # an outlet below the maker's city branch
        ("BJ0001", ("admin", "OT0001"), 200),  # head-office role: any request
    ],
)
def test_a_checker_in_the_makers_branch_or_above_decides(client, auth, loyalty_app, maker_branch, checker, outcome):
    _copy_tree(loyalty_app.state.db)
    pid = _adjust(client, auth, f.enrol(client, auth), 2000, branch=maker_branch).json()["id"]
    role, code = checker
    approve = client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth(role, sub="boss-9", branch=code))
    assert approve.status_code == outcome, approve.text
    listed = client.get(
        "/v1/loyalty/approvals", params={"status": "all"}, headers=auth(role, sub="boss-9", branch=code)
    ).json()["items"]
    assert (pid in [a["id"] for a in listed]) is (outcome == 200)  # the queue shows what may be decided
    if outcome == 404:
        assert approve.json()["code"] == "approval_not_found"
        rejected = client.post(
            f"/v1/loyalty/approvals/{pid}/reject",
            json={"reason": "不在本行辖内审批"},
            headers=auth(role, sub="boss-9", branch=code),
        )
        assert rejected.status_code == 404 and rejected.json()["code"] == "approval_not_found"


def test_the_maker_never_decides_even_from_above(client, auth, loyalty_app):
    _copy_tree(loyalty_app.state.db)
    cid = f.enrol(client, auth)
    pid = _adjust(client, auth, cid, 2000, role="supervisor", sub="boss-1").json()["id"]
    for role in ("supervisor", "admin"):
        own = client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth(role, sub="boss-1", branch="TP0001"))
        assert own.status_code == 403 and own.json()["code"] == "maker_cannot_decide"


def test_an_approval_that_the_balance_no_longer_covers_stays_pending(client, auth):
    cid = f.funded(client, auth, 500)
    pid = _adjust(client, auth, cid, -1500).json()["id"]
    resp = client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth("supervisor"))
    assert resp.status_code == 409 and resp.json()["code"] == "points_insufficient"
    assert client.get(f"/v1/loyalty/approvals/{pid}", headers=auth("staff")).json()["status"] == "pending"


def test_roles_and_unknown_requests(client, auth):
    cid = f.enrol(client, auth)
    pid = _adjust(client, auth, cid, 2000).json()["id"]
    for role in ("customer", "staff", "system"):
        assert client.get("/v1/loyalty/approvals", headers=auth(role)).status_code == 403
        assert client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth(role)).status_code == 403
        assert (
            client.post(
                f"/v1/loyalty/approvals/{pid}/reject", json={"reason": "no no no"}, headers=auth(role)
            ).status_code
            == 403
        )
    assert client.get(f"/v1/loyalty/approvals/{pid}", headers=auth("customer")).status_code == 403
    assert client.get("/v1/loyalty/approvals").status_code == 401
    missing = client.post(f"/v1/loyalty/approvals/{uuid.uuid4()}/approve", headers=auth("supervisor"))
    assert missing.status_code == 404 and missing.json()["code"] == "approval_not_found"
    assert client.get(f"/v1/loyalty/approvals/{uuid.uuid4()}", headers=auth("staff")).status_code == 404
    assert client.get("/v1/loyalty/approvals/not-a-uuid", headers=auth("staff")).status_code == 422
    assert client.get("/v1/loyalty/approvals", params={"status": "maybe"}, headers=auth("admin")).status_code == 422
    assert (
        client.get("/v1/loyalty/approvals", params={"status": "all"}, headers=auth("admin")).json()["items"][0]["id"]
        == pid
    )


def test_a_replayed_request_answers_the_same_pending_request(client, auth):
    cid = f.enrol(client, auth)
    key = {"Idempotency-Key": f"adj-{uuid.uuid4()}"}
    first = _adjust(client, auth, cid, 2000, **key)
    again = _adjust(client, auth, cid, 2000, **key)
    assert (first.status_code, again.status_code) == (202, 202) and first.json()["id"] == again.json()["id"]


def test_racing_approvals_post_once(fresh_loyalty_db, auth):
    app = create_app(loyalty_settings(fresh_loyalty_db.url), db=fresh_loyalty_db, clock=Clock())
    with TestClient(app, raise_server_exceptions=False) as client:
        cid = f.enrol(client, auth)
        pid = _adjust(client, auth, cid, 2000).json()["id"]
        assert race_approvals(app, fresh_loyalty_db, pid) == ["approval_decided"] * 5 + ["approved"]
        assert f.balance(client, auth, cid) == 2000


def _retire(client, auth, rid, sub="boss-maker", version=1, **fields):
    return client.patch(
        f"/v1/loyalty/rewards/{rid}",
        json={"is_retired": True, **fields},
        headers={**auth("supervisor", sub=sub), "If-Match": f'"{version}"'},
    )


def test_retiring_a_reward_waits_for_another_supervisor(client, auth, loyalty_app):
    rid = f.reward(client, auth)["id"]
    asked = _retire(client, auth, rid, stock=5)
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert (body["action"], body["why"], body["payload"]["changes"]) == (
        "reward.retire", "retirement", {"is_retired": True, "stock": 5}
    )  # fmt: skip
    assert client.get(f"/v1/loyalty/rewards/{rid}", headers=auth("staff")).json()["is_retired"] is False
    assert _retire(client, auth, rid, sub="boss-other").json()["code"] == "approval_pending"
    done = client.post(f"/v1/loyalty/approvals/{body['id']}/approve", headers=auth("admin", sub="root"))
    assert done.status_code == 200 and done.json()["result"] == {"version": 2}
    got = client.get(f"/v1/loyalty/rewards/{rid}", headers=auth("staff")).json()
    assert (got["is_retired"], got["stock"], got["version"]) == (True, 5, 2)
    steps, _chain = steps_on_feed_and_chain(client, auth, loyalty_app, body["id"])
    assert steps == ["approval.requested", "approval.approved"]


def test_other_reward_changes_and_a_stale_request(client, auth):
    rid = f.reward(client, auth)["id"]
    changed = client.patch(
        f"/v1/loyalty/rewards/{rid}", json={"stock": 9}, headers={**auth("supervisor"), "If-Match": '"1"'}
    )
    assert changed.status_code == 200  # not a retirement: made at once
    pid = _retire(client, auth, rid, version=2).json()["id"]
    assert (
        client.patch(
            f"/v1/loyalty/rewards/{rid}", json={"stock": 8}, headers={**auth("supervisor"), "If-Match": '"2"'}
        ).status_code
        == 200
    )
    stale = client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth("admin"))
    assert stale.status_code == 412
    assert client.get(f"/v1/loyalty/approvals/{pid}", headers=auth("staff")).json()["status"] == "pending"
    assert _retire(client, auth, rid, version=1).status_code == 412  # checked when asked too


def test_reward_retirement_decisions_roles_and_expiry(client, auth, loyalty_app, clock):
    rid = f.reward(client, auth)["id"]
    pid = _retire(client, auth, rid).json()["id"]
    check_routes(client, auth, "/v1/loyalty/approvals", pid)
    check_decisions(client, auth, "/v1/loyalty/approvals", pid, maker="boss-maker")
    pid2 = _retire(client, auth, rid).json()["id"]
    check_expiry(client, auth, loyalty_app, "/v1/loyalty/approvals", pid2, clock, hours=72)


def test_without_dual_control_a_supervisor_retires_a_reward_alone(loyalty_db, auth, clock):
    app = create_app(loyalty_settings(loyalty_db.url, dual_control_reward_retire=False), db=loyalty_db, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        rid = f.reward(client, auth)["id"]
        assert _retire(client, auth, rid).status_code == 200


def test_racing_approvals_retire_a_reward_once(fresh_loyalty_db, auth):
    app = create_app(loyalty_settings(fresh_loyalty_db.url), db=fresh_loyalty_db, clock=Clock())
    with TestClient(app, raise_server_exceptions=False) as client:
        rid = f.reward(client, auth)["id"]
        pid = _retire(client, auth, rid).json()["id"]
        assert race_approvals(app, fresh_loyalty_db, pid) == ["approval_decided"] * 5 + ["approved"]
        assert client.get(f"/v1/loyalty/rewards/{rid}", headers=auth("staff")).json()["version"] == 2
