"""Dual control of the second complaint extension: any staff member asks, a supervisor or admin other
than the maker approves (the extension is appended once, in the maker's name, approved_by the checker)
or rejects; one pending per complaint; requests expire; erasure clears the typed text they hold; each
step on the feed and in the audit chain; every route's declared errors and roles."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.feedback.app import create_app
from services.feedback.models import approval
from services.feedback.service.erasure import erase_customer
from tests import dbkit
from tests.approvals_kit import (
    check_decisions,
    check_expiry,
    check_routes,
    race_approvals,
    steps_on_feed_and_chain,
)
from tests.feedback import factories as f
from tests.feedback.conftest import ALEMBIC_INI, Clock, feedback_settings

BASE = "/v1/complaints/approvals"
NOTICE = "2026-03-02T01:00:00Z"


def _extended_once(client, auth) -> dict:
    c = f.file(client, auth("staff"))
    f.step(client, auth("staff"), c["id"], "extend", reason="复杂")
    return c


def _ask(client, auth, cid, sub="clerk-1", role="staff"):
    body = {"action": "extend", "reason": "仍需核查", "notice_sent_at": NOTICE, "note": "已电话告知"}
    return client.post(f"/v1/complaints/{cid}/steps", json=body, headers=auth(role, sub=sub))


def test_the_second_extension_waits_for_a_checker_then_is_appended_once(client, auth, feedback_app):
    c = _extended_once(client, auth)
    asked = _ask(client, auth, c["id"])
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert (body["why"], body["payload"]["to_days"], body["payload"]["reason"]) == ("second_extension", 60, "仍需核查")
    assert client.get(f"/v1/complaints/{c['id']}", headers=auth("staff")).json()["deadline"]["limit_days"] == 30
    done = client.post(f"{BASE}/{body['id']}/approve", headers=auth("supervisor", sub="sup-zhao"))
    assert done.status_code == 200 and done.json()["result"] == {"to_days": 60}
    after = client.get(f"/v1/complaints/{c['id']}", headers=auth("staff")).json()
    assert after["deadline"]["limit_days"] == 60 and after["deadline"]["extensions"][1]["approved_by"] == "sup-zhao"
    assert (after["steps"][-1]["action"], after["steps"][-1]["actor_sub"]) == ("extend", "clerk-1")
    again = _ask(client, auth, c["id"], sub="clerk-2")
    assert again.status_code == 409 and again.json()["code"] == "complaint_extension_exhausted"
    steps, chain = steps_on_feed_and_chain(client, auth, feedback_app, body["id"])
    assert steps == ["approval.requested", "approval.approved"]
    assert chain[-1] == "approval.approved" and chain.count("approval.requested") == 1


def test_one_pending_request_per_complaint_and_a_supervisor_asks_too(client, auth):
    c = _extended_once(client, auth)
    assert _ask(client, auth, c["id"], role="supervisor", sub="sup-1").status_code == 202
    second = _ask(client, auth, c["id"], sub="clerk-2")
    assert second.status_code == 409 and second.json()["code"] == "approval_pending"


def test_a_complaint_closed_meanwhile_cannot_be_extended_and_the_request_stays_pending(client, auth):
    c = _extended_once(client, auth)
    pid = _ask(client, auth, c["id"]).json()["id"]
    f.step(client, auth("customer", sub=c["customer_id"]), c["id"], "withdraw")
    late = client.post(f"{BASE}/{pid}/approve", headers=auth("supervisor"))
    assert late.status_code == 409 and late.json()["code"] == "complaint_transition_illegal"
    assert client.get(f"{BASE}/{pid}", headers=auth("staff")).json()["status"] == "pending"


def test_decisions_rejection_and_roles(client, auth, feedback_app):
    c = _extended_once(client, auth)
    pid = _ask(client, auth, c["id"]).json()["id"]
    check_routes(client, auth, BASE, pid)
    check_decisions(client, auth, BASE, pid, maker="clerk-1")
    assert client.get(f"/v1/complaints/{c['id']}", headers=auth("staff")).json()["deadline"]["limit_days"] == 30
    assert steps_on_feed_and_chain(client, auth, feedback_app, pid)[0] == ["approval.requested", "approval.rejected"]


def test_requests_expire(client, auth, feedback_app, clock):
    c = _extended_once(client, auth)
    pid = _ask(client, auth, c["id"]).json()["id"]
    check_expiry(client, auth, feedback_app, BASE, pid, clock, hours=72)


def test_erasure_clears_the_text_a_request_holds(client, auth, feedback_app):
    c = _extended_once(client, auth)
    pid = _ask(client, auth, c["id"]).json()["id"]
    db = feedback_app.state.db
    with db.write() as s:
        erase_customer(s, c["customer_id"])
        s.commit()
    with db.read() as s:
        payload = s.execute(select(approval.c.payload).where(approval.c.id == pid)).scalar_one()
    assert (payload["reason"], payload["note"], payload["to_days"]) == ("[erased]", "[erased]", 60)


@pytest.mark.parametrize("settings_overrides", [{"dual_control_second_extension": False}])
def test_without_dual_control_a_supervisor_extends_alone(client, auth):
    c = _extended_once(client, auth)
    staff = _ask(client, auth, c["id"])
    assert staff.status_code == 403 and staff.json()["code"] == "extension_approval_required"
    assert _ask(client, auth, c["id"], role="supervisor").status_code == 200


fresh_feedback_db = dbkit.fresh_database_fixture("feedback", "feedback_sqlite_template", ALEMBIC_INI)


def test_racing_approvals_extend_once(fresh_feedback_db, auth):
    app = create_app(feedback_settings(fresh_feedback_db.url), db=fresh_feedback_db, clock=Clock())
    with TestClient(app, raise_server_exceptions=False) as client:
        c = _extended_once(client, auth)
        pid = _ask(client, auth, c["id"]).json()["id"]
        assert race_approvals(app, fresh_feedback_db, pid) == ["approval_decided"] * 5 + ["approved"]
        steps = client.get(f"/v1/complaints/{c['id']}", headers=auth("staff")).json()["steps"]
        assert [s["action"] for s in steps].count("extend") == 2
