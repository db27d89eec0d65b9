"""Dual control of retiring a product: pending until a supervisor or admin other than the maker
approves it (then retired, once, in the maker's name) or rejects it; one pending per product; requests
expire; each step on the feed and in the audit chain; every route's declared errors and roles."""

from fastapi.testclient import TestClient

from services.segmentation.app import create_app
from tests import dbkit
from tests.approvals_kit import (
    check_decisions,
    check_expiry,
    check_routes,
    race_approvals,
    steps_on_feed_and_chain,
)
from tests.segmentation.conftest import ALEMBIC_INI, NOW, Clock, segmentation_settings
from tests.segmentation.test_api_products import create

BASE = "/v1/products/approvals"


def _ask(client, auth, pid, sub="maker-1", **headers):
    return client.post(f"/v1/products/{pid}/retire", headers=auth("supervisor", sub=sub) | headers)


def test_retiring_waits_for_another_supervisor_then_retires_once(client, auth, seg_app):
    p = create(client, auth)
    asked = _ask(client, auth, p["id"], **{"If-Match": '"1"'})
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert (body["action"], body["why"], body["status"], body["payload"]) == (
        "product.retire", "retirement", "pending", {"product_id": p["id"], "version": 1}
    )  # fmt: skip
    assert client.get(f"/v1/products/{p['id']}", headers=auth("staff")).json()["is_active"] is True
    own = client.post(f"{BASE}/{body['id']}/approve", headers=auth("supervisor", sub="maker-1"))
    assert own.status_code == 403 and own.json()["code"] == "maker_cannot_decide"
    done = client.post(f"{BASE}/{body['id']}/approve", headers=auth("admin", sub="checker-1"))
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["checker_sub"], done.json()["result"]) == (
        "approved", "checker-1", {"version": 2}
    )  # fmt: skip
    got = client.get(f"/v1/products/{p['id']}", headers=auth("staff"))
    assert got.json()["is_active"] is False and got.headers["ETag"] == '"2"'
    steps, chain = steps_on_feed_and_chain(client, auth, seg_app, body["id"])
    assert steps == ["approval.requested", "approval.approved"]
    assert chain[-3:] == ["approval.requested", "product.retired", "approval.approved"]


def test_one_pending_request_per_product(client, auth):
    p = create(client, auth)
    assert _ask(client, auth, p["id"]).status_code == 202
    second = _ask(client, auth, p["id"], sub="maker-2")
    assert second.status_code == 409 and second.json()["code"] == "approval_pending"


def test_the_request_checks_the_product_now(client, auth):
    assert _ask(client, auth, "00000000-0000-4000-8000-0000000000cc").status_code == 404
    p = create(client, auth)
    assert _ask(client, auth, p["id"], **{"If-Match": '"7"'}).status_code == 412


def test_a_product_changed_since_the_request_is_412_and_the_request_stays_pending(client, auth):
    p = create(client, auth)
    pid = _ask(client, auth, p["id"]).json()["id"]
    changed = client.patch(
        f"/v1/products/{p['id']}", json={"name": "新名称"}, headers=auth("supervisor") | {"If-Match": '"1"'}
    )
    assert changed.status_code == 200
    stale = client.post(f"{BASE}/{pid}/approve", headers=auth("admin"))
    assert stale.status_code == 412
    assert client.get(f"{BASE}/{pid}", headers=auth("staff")).json()["status"] == "pending"


def test_decisions_rejection_and_roles(client, auth, seg_app):
    p = create(client, auth)
    pid = _ask(client, auth, p["id"]).json()["id"]
    check_routes(client, auth, BASE, pid)
    check_decisions(client, auth, BASE, pid, maker="maker-1")
    assert client.get(f"/v1/products/{p['id']}", headers=auth("staff")).json()["is_active"] is True
    assert steps_on_feed_and_chain(client, auth, seg_app, pid)[0] == ["approval.requested", "approval.rejected"]
    assert _ask(client, auth, p["id"]).status_code == 202  # the slot is free again


def test_requests_expire(client, auth, seg_app, clock):
    p = create(client, auth)
    pid = _ask(client, auth, p["id"]).json()["id"]
    check_expiry(client, auth, seg_app, BASE, pid, clock, hours=72)
    assert _ask(client, auth, p["id"]).status_code == 202


def test_pending_requests_are_exported_by_action_and_age(client, auth, clock):
    p = create(client, auth)
    assert _ask(client, auth, p["id"]).status_code == 202
    clock.advance(hours=60)  # within the last quarter of 72 hours
    text = client.get("/metrics").text
    assert 'suite_approval_requests_pending{action="product.retire",age="near_expiry"} 1.0' in text
    assert 'suite_approval_requests_pending{action="product.retire",age="waiting"} 0.0' in text


def test_without_dual_control_a_supervisor_retires_alone(seg_db, clock, auth):
    app = create_app(segmentation_settings(seg_db.url, dual_control_product_retire=False), db=seg_db, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        p = create(client, auth)
        assert _ask(client, auth, p["id"]).status_code == 200


fresh_seg_db = dbkit.fresh_database_fixture("segmentation", "seg_sqlite_template", ALEMBIC_INI)


def test_racing_approvals_retire_once(fresh_seg_db, auth):
    app = create_app(segmentation_settings(fresh_seg_db.url), db=fresh_seg_db, clock=Clock(NOW))
    with TestClient(app, raise_server_exceptions=False) as client:
        p = create(client, auth)
        pid = _ask(client, auth, p["id"]).json()["id"]
        assert race_approvals(app, fresh_seg_db, pid) == ["approval_decided"] * 5 + ["approved"]
        assert client.get(f"/v1/products/{p['id']}", headers=auth("staff")).json()["version"] == 2
