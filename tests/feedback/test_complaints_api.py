"""Complaint intake, every transition and illegal transition of the state machine, recusal, roles,
customers' own complaints, steps as an append-only record, and the events."""

import uuid

import pytest

from tests.feedback import factories as f


def test_file_complaint_as_staff_returns_deadline_and_emits_opened(client, auth):
    body = f.complaint()
    c = f.file(client, auth("staff"), body)
    assert c["state"] == "received" and c["amount"] == "120.50" and c["customer_id"] == body["customer_id"]
    assert c["received_at"] == "2026-03-02T02:00:00Z"
    assert c["deadline"]["due_at"] == "2026-03-17T02:00:00Z" and c["deadline"]["days_left"] == 15
    assert c["allowed_actions"] == ["acknowledge", "assign", "extend", "pause", "add_facts", "withdraw", "note"]
    assert [s["action"] for s in c["steps"]] == ["receive"]
    [opened] = f.events(client, auth("system"), "complaint.opened")
    assert opened["subject_id"] == body["customer_id"]
    assert opened["data"] == {
        "complaint_id": c["id"],
        "channel": "branch_counter",
        "business_type": "savings",
        "cause": "service_attitude",
        "branch_code": "BJ0001",
        "received_at": "2026-03-02T02:00:00Z",
        "due_at": "2026-03-17T02:00:00Z",
    }


def test_file_complaint_by_non_customer_masks_contact_and_uses_complaint_as_subject(client, auth):
    body = f.complaint(
        customer_id=None,
        complainant={"name": "王小明", "contact": "13812345678"},
        representative={"kind": "heir", "name": "王大明", "proof_ref": "继承公证书 2026-001"},
    )
    c = f.file(client, auth("staff"), body)
    assert c["complainant_name"] == "王**" and c["complainant_contact"] == "138****5678"
    assert c["representative"] == {"kind": "heir", "name": "王**", "proof_ref": "继承公证书 2026-001"}
    [opened] = f.events(client, auth("system"), "complaint.opened")
    assert opened["subject_id"] == c["id"]
    assert "13812345678" not in str(opened)


def test_file_complaint_as_customer_is_its_own(client, auth):
    me = str(uuid.uuid4())
    c = f.file(client, auth("customer", sub=me), f.complaint(customer_id=me, channel="mobile_app"))
    assert c["customer_id"] == me
    assert client.get(f"/v1/complaints/{c['id']}", headers=auth("customer", sub=me)).status_code == 200
    other = client.get(f"/v1/complaints/{c['id']}", headers=auth("customer"))
    assert other.status_code == 404 and other.json()["code"] == "complaint_not_found"
    mine = client.get("/v1/complaints", headers=auth("customer", sub=me)).json()["items"]
    assert [x["id"] for x in mine] == [c["id"]]
    assert client.get("/v1/complaints", headers=auth("customer")).json()["items"] == []


def test_file_complaint_as_customer_for_another_is_forbidden(client, auth):
    resp = client.post("/v1/complaints", json=f.complaint(), headers=auth("customer"))
    assert resp.status_code == 403 and resp.json()["code"] == "complaint_forbidden"


@pytest.mark.parametrize("role", ["system"])
def test_file_complaint_as_system_is_forbidden(client, auth, role):
    assert client.post("/v1/complaints", json=f.complaint(), headers=auth(role)).status_code == 403


def test_file_complaint_without_token_is_unauthorized(client):
    assert client.post("/v1/complaints", json=f.complaint()).status_code == 401


BAD_FIELDS = [
    ({"channel": "carrier_pigeon"}, "channel"),
    ({"business_type": "crypto"}, "business_type"),
    ({"cause": "weather"}, "cause"),
    ({"amount": "12.345"}, "amount"),
    ({"amount": "-1"}, "amount"),
    ({"branch_code": "bj"}, "branch_code"),
    ({"description": ""}, "description"),
    ({"received_at": "2027-01-01T00:00:00Z"}, "received_at"),
    ({"received_at": "2026-01-01T00:00:00"}, "received_at"),
    ({"related_complaint_id": str(uuid.uuid4())}, "related_complaint_id"),
    ({"surprise": 1}, "surprise"),
]


def test_file_complaint_with_bad_field_is_422_naming_it(client, auth):
    for overrides, field in BAD_FIELDS:
        resp = client.post("/v1/complaints", json=f.complaint(**overrides), headers=auth("staff"))
        assert resp.status_code == 422, (field, resp.text)
        assert any(field in e["loc"] for e in resp.json()["errors"]), (field, resp.text)


def test_file_complaint_needs_exactly_one_complainant(client, auth):
    body = f.complaint(complainant={"name": "王", "contact": "13812345678"})
    assert client.post("/v1/complaints", json=body, headers=auth("staff")).status_code == 422
    assert client.post("/v1/complaints", json=f.complaint(customer_id=None), headers=auth("staff")).status_code == 422


def test_file_complaint_idempotency_key_replays_and_conflicts(client, auth):
    h = {**auth("staff", sub="staff-a"), "Idempotency-Key": "c-1"}
    body = f.complaint()
    first = client.post("/v1/complaints", json=body, headers=h)
    again = client.post("/v1/complaints", json=body, headers=h)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.headers["idempotency-replayed"] == "true"
    other = client.post("/v1/complaints", json=f.complaint(), headers=h)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


def test_repeat_complaint_links_to_the_first(client, auth):
    me = str(uuid.uuid4())
    first = f.file(client, auth("staff"), f.complaint(customer_id=me))
    second = f.file(client, auth("staff"), f.complaint(customer_id=me))
    third = f.file(client, auth("staff"), f.complaint(customer_id=me, related_complaint_id=second["id"]))
    other = f.file(client, auth("staff"), f.complaint(customer_id=me, cause="fund_security"))
    assert first["related_complaint_id"] is None
    assert second["related_complaint_id"] == first["id"] and third["related_complaint_id"] == first["id"]
    assert other["related_complaint_id"] is None


def test_full_lifecycle_with_review_records_every_step_and_event(client, auth):
    staff, sup = auth("staff", sub="staff-li"), auth("supervisor", sub="sup-wang")
    c = f.file(client, staff)
    cid = c["id"]
    assert f.step(client, staff, cid, "acknowledge")["state"] == "acknowledged"
    assert f.step(client, staff, cid, "assign", handler_sub="staff-li")["handler_sub"] == "staff-li"
    assert f.step(client, staff, cid, "investigate")["state"] == "investigating"
    f.step(client, staff, cid, "note", note="called the customer")
    decided = f.step(client, staff, cid, "decide", **f.decision())
    assert decided["state"] == "decided" and decided["decision"]["outcome"] == "partly_upheld"
    assert decided["decision"]["on_time"] is True and decided["deadline"]["stopped_at"] == "2026-03-02T02:00:00Z"
    assert decided["deadline"]["review_request_due_at"] == "2026-04-01T01:00:00Z"
    assert decided["allowed_actions"] == ["close", "request_review", "note"]
    reviewed = f.step(client, auth("customer", sub=c["customer_id"]), cid, "request_review", reason="不服处理结果")
    assert reviewed["state"] == "review_requested"
    assert reviewed["deadline"]["review_decision_due_at"] == "2026-04-01T02:00:00Z"
    rd = f.step(client, sup, cid, "decide_review", outcome="upheld", basis="复核", unit="北京分行")
    assert rd["state"] == "review_decided"
    closed = f.step(client, staff, cid, "close")
    assert closed["state"] == "closed" and closed["allowed_actions"] == ["note"]
    assert [s["action"] for s in closed["steps"]] == [
        "receive",
        "acknowledge",
        "assign",
        "investigate",
        "note",
        "decide",
        "request_review",
        "decide_review",
        "close",
    ]
    assert [(s["from_state"], s["to_state"]) for s in closed["steps"]][5] == ("investigating", "decided")
    assert all(s["actor_sub"] and s["at"] for s in closed["steps"])
    sysh = auth("system")
    [d] = f.events(client, sysh, "complaint.decided")
    assert d["data"] == {"complaint_id": cid, "outcome": "partly_upheld", "decided_at": "2026-03-02T02:00:00Z"}
    [cl] = f.events(client, sysh, "complaint.closed")
    assert cl["data"] == {"complaint_id": cid, "closed_at": "2026-03-02T02:00:00Z", "reason": "handled"}


def test_close_after_decision_without_review(client, auth):
    staff = auth("staff")
    c = f.file(client, staff)
    f.to_decided(client, staff, c["id"])
    assert f.step(client, staff, c["id"], "close")["state"] == "closed"


@pytest.mark.parametrize("start", ["received", "acknowledged", "investigating"])
def test_withdraw_from_each_open_state_ends_handling(client, auth, start):
    staff = auth("staff")
    c = f.file(client, staff)
    if start != "received":
        f.step(client, staff, c["id"], "acknowledge")
    if start == "investigating":
        f.step(client, staff, c["id"], "assign", handler_sub="staff-li")
        f.step(client, staff, c["id"], "investigate")
    w = f.step(client, auth("customer", sub=c["customer_id"]), c["id"], "withdraw")
    assert w["state"] == "withdrawn" and w["deadline"]["stopped_at"] is not None and w["deadline"]["days_left"] is None
    assert w["allowed_actions"] == ["note"]
    [cl] = f.events(client, auth("system"), "complaint.closed")
    assert cl["data"]["reason"] == "withdrawn"


STATES = [
    "received",
    "acknowledged",
    "investigating",
    "decided",
    "review_requested",
    "review_decided",
    "closed",
    "withdrawn",
]
ACTIONS = [
    "acknowledge",
    "assign",
    "investigate",
    "extend",
    "pause",
    "resume",
    "add_facts",
    "decide",
    "withdraw",
    "close",
    "request_review",
    "decide_review",
    "note",
]
BODIES = {
    "decide": f.decision(),
    "request_review": {"reason": "不服"},
    "extend": {"reason": "案情复杂"},
    "pause": {"reason": "testing", "notice_sent_at": "2026-03-02T01:00:00Z"},
    "decide_review": {"outcome": "upheld", "basis": "复核", "unit": "分行"},
    "assign": {"handler_sub": "staff-q"},
    "add_facts": {"note": "新的事实"},
    "note": {"note": "x"},
}


def _drive(client, auth, cid: str, state: str) -> None:
    staff, sup = auth("staff"), auth("supervisor", sub="sup-x")
    path = {
        "received": [],
        "acknowledged": ["acknowledge"],
        "investigating": ["acknowledge", "assign", "investigate"],
        "decided": ["acknowledge", "assign", "investigate", "decide"],
        "review_requested": ["acknowledge", "assign", "investigate", "decide", "request_review"],
        "review_decided": ["acknowledge", "assign", "investigate", "decide", "request_review", "decide_review"],
        "closed": ["acknowledge", "assign", "investigate", "decide", "close"],
        "withdrawn": ["withdraw"],
    }[state]
    for action in path:
        extra = BODIES.get(action, {})
        f.step(client, sup if action == "decide_review" else staff, cid, action, **extra)


@pytest.mark.parametrize("state", STATES)
def test_every_illegal_transition_is_409_listing_allowed_actions(client, auth, state):
    c = f.file(client, auth("staff"))
    _drive(client, auth, c["id"], state)
    who = auth("supervisor", sub="sup-y")
    allowed = client.get(f"/v1/complaints/{c['id']}", headers=who).json()["allowed_actions"]
    illegal = [a for a in ACTIONS if a not in allowed]
    assert illegal and "note" in allowed
    for action in illegal:
        body = {"action": action, **BODIES.get(action, {})}
        resp = client.post(f"/v1/complaints/{c['id']}/steps", json=body, headers=who)
        assert resp.status_code == 409, (action, resp.text)
        problem = resp.json()
        assert problem["code"] == "complaint_transition_illegal" and problem["state"] == state
        assert problem["allowed_actions"] == allowed
    assert client.get(f"/v1/complaints/{c['id']}", headers=who).json()["state"] == state


def test_assign_the_staff_complained_about_is_409_recused(client, auth):
    staff = auth("staff")
    c = f.file(client, staff, f.complaint(staff_complained_about="staff-zhang"))
    resp = client.post(
        f"/v1/complaints/{c['id']}/steps", json={"action": "assign", "handler_sub": "staff-zhang"}, headers=staff
    )
    assert resp.status_code == 409 and resp.json()["code"] == "complaint_handler_recused"
    assert client.get(f"/v1/complaints/{c['id']}", headers=staff).json()["handler_sub"] is None


def test_staff_complained_about_may_not_investigate_or_decide(client, auth):
    c = f.file(client, auth("staff"), f.complaint(staff_complained_about="staff-zhang"))
    f.step(client, auth("staff"), c["id"], "acknowledge")
    f.step(client, auth("staff"), c["id"], "assign", handler_sub="staff-li")
    resp = client.post(
        f"/v1/complaints/{c['id']}/steps", json={"action": "investigate"}, headers=auth("staff", sub="staff-zhang")
    )
    assert resp.status_code == 409 and resp.json()["code"] == "complaint_handler_recused"


def test_investigate_without_handler_is_409(client, auth):
    c = f.file(client, auth("staff"))
    f.step(client, auth("staff"), c["id"], "acknowledge")
    resp = client.post(f"/v1/complaints/{c['id']}/steps", json={"action": "investigate"}, headers=auth("staff"))
    assert resp.status_code == 409 and resp.json()["code"] == "complaint_handler_required"


def test_review_by_the_first_decider_is_409(client, auth):
    sup = auth("supervisor", sub="sup-same")
    c = f.file(client, sup)
    f.to_decided(client, sup, c["id"])
    f.step(client, sup, c["id"], "request_review", reason="不服")
    resp = client.post(
        f"/v1/complaints/{c['id']}/steps", headers=sup, json={"action": "decide_review", **BODIES["decide_review"]}
    )
    assert resp.status_code == 409 and resp.json()["code"] == "complaint_review_recused"


@pytest.mark.parametrize("role", ["staff", "customer"])
def test_decide_review_needs_a_supervisor(client, auth, role):
    c = f.file(client, auth("staff"))
    f.to_decided(client, auth("staff"), c["id"])
    f.step(client, auth("staff"), c["id"], "request_review", reason="不服")
    resp = client.post(
        f"/v1/complaints/{c['id']}/steps",
        headers=auth(role, sub=c["customer_id"]),
        json={"action": "decide_review", **BODIES["decide_review"]},
    )
    assert resp.status_code == 403


@pytest.mark.parametrize("action", ["acknowledge", "note", "close"])
def test_customer_may_not_handle_its_complaint(client, auth, action):
    c = f.file(client, auth("staff"))
    body = {"action": action, **({"note": "x"} if action == "note" else {})}
    resp = client.post(f"/v1/complaints/{c['id']}/steps", json=body, headers=auth("customer", sub=c["customer_id"]))
    assert resp.status_code == 403 and resp.json()["code"] == "role_forbidden"


def test_step_on_unknown_complaint_is_404(client, auth):
    resp = client.post(f"/v1/complaints/{uuid.uuid4()}/steps", json={"action": "acknowledge"}, headers=auth("staff"))
    assert resp.status_code == 404 and resp.json()["code"] == "complaint_not_found"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "fly"}, "action"),
        ({"action": "assign"}, "handler_sub"),
        ({"action": "extend", "reason": ""}, "reason"),
        ({"action": "pause", "reason": "holiday", "notice_sent_at": "2026-03-02T00:00:00Z"}, "reason"),
    ],
)
def test_step_with_bad_body_is_422_naming_the_field(client, auth, body, field):
    c = f.file(client, auth("staff"))
    resp = client.post(f"/v1/complaints/{c['id']}/steps", json=body, headers=auth("staff"))
    assert resp.status_code == 422, resp.text
    assert any(field in [str(p) for p in e["loc"]] or field in e["msg"] for e in resp.json()["errors"])


def test_decide_with_refund_needs_amount(client, auth):
    c = f.file(client, auth("staff"))
    f.to_investigating(client, auth("staff"), c["id"])
    bad = f.decision(remedy={"kinds": ["refund"]})
    resp = client.post(f"/v1/complaints/{c['id']}/steps", json={"action": "decide", **bad}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "remedy", "refund_amount"]
    ok = f.decision(remedy={"kinds": ["refund"], "refund_amount": "120.50"})
    assert f.step(client, auth("staff"), c["id"], "decide", **ok)["decision"]["remedy"]["refund_amount"] == "120.50"


# not base64 JSON; a naive time; not a time and id
FORGED_CURSORS = [
    "nonsense",
    "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIl0",
    "WyJ4IiwieSJd",
]


def test_list_complaints_filters_and_pages(client, auth):
    staff = auth("staff")
    ids = [f.file(client, staff, f.complaint(branch_code="SH0001"))["id"] for _ in range(3)]
    f.file(client, staff, f.complaint(branch_code="BJ0001"))
    page1 = client.get("/v1/complaints", params={"branch_code": "SH0001", "limit": 2}, headers=staff).json()
    page2 = client.get(
        "/v1/complaints", params={"branch_code": "SH0001", "limit": 2, "cursor": page1["next_cursor"]}, headers=staff
    ).json()
    got = [x["id"] for x in page1["items"] + page2["items"]]
    assert sorted(got) == sorted(ids) and page2["next_cursor"] is None
    assert client.get("/v1/complaints", params={"state": "decided"}, headers=staff).json()["items"] == []
    for forged in FORGED_CURSORS:
        bad = client.get("/v1/complaints", params={"cursor": forged}, headers=staff)
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "cursor"], forged


def test_list_complaints_as_system_is_forbidden(client, auth):
    assert client.get("/v1/complaints", headers=auth("system")).status_code == 403


def test_code_lists_are_data(client, auth):
    codes = client.get("/v1/complaints/codes", headers=auth("customer")).json()
    assert [c["code"] for c in codes["channel"]][:3] == ["branch_counter", "self_service", "phone_hotline"]
    assert {
        "savings",
        "loans",
        "bank_cards",
        "payment_settlement",
        "wealth_management",
        "personal_information",
        "fees",
    } <= {c["code"] for c in codes["business_type"]}
    assert {
        "service_attitude",
        "systems",
        "rules_processes",
        "marketing",
        "disclosure",
        "contract_terms",
        "fund_security",
        "information_security",
    } <= {c["code"] for c in codes["cause"]}
    assert client.get("/v1/complaints/codes").status_code == 401
    assert client.get("/v1/complaints/codes", headers=auth("system")).status_code == 403


def test_close_invites_the_customer_to_the_handling_survey(feedback_db, clock, auth):
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from services.feedback.app import create_app
    from services.feedback.models import SurveyInvitation
    from tests.feedback.conftest import feedback_settings

    sid = None
    app = create_app(feedback_settings(feedback_db.url), db=feedback_db, clock=clock)
    with TestClient(app) as c0:
        sid = f.published_survey(c0, auth("staff"))["id"]
    app = create_app(feedback_settings(feedback_db.url, handling_survey_id=sid), db=feedback_db, clock=clock)
    with TestClient(app) as client:
        c = f.file(client, auth("staff"))
        f.to_decided(client, auth("staff"), c["id"])
        f.step(client, auth("staff"), c["id"], "close")
    with feedback_db.read() as s:
        invites = s.execute(select(SurveyInvitation)).scalars().all()
    assert [(str(i.survey_id), i.customer_id, str(i.complaint_id)) for i in invites] == [
        (sid, c["customer_id"], c["id"])
    ]
