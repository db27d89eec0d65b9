"""Erasure reaches every service and every file (PIPL art. 47): a customer registered in profile, known
to loyalty (an account with an adjustment whose reason names them, an adjustment's approval request
and its rejection), feedback (a complaint describing them, a step note, a free-text survey answer) and
segmentation, with reasons typed in profile (a do-not-contact flag, an agreement's revocation, a
reveal's reason on the access log, the erasure request's own), is erased through the gateway. After
the feeds drain, none of the person's values (name, phone, ID number, what was typed about them) is in
any SQLite file of any service (the database, its WAL and shared memory) or, on PostgreSQL, in any text
column of any table. The records that are kept (the complaint, the ledger) are still there."""

import uuid

import httpx
import pytest

from services.common.db import Database
from services.profile.service.identity import resident_id_check_char
from tests.dbkit import stored_in_clear
from tests.e2e.whole_suite import (  # noqa: F401 (whole_suite, a fixture)
    SERVICES,
    WholeSuite,
    drain,
    enrolled_customer,
    ok,
    whole_suite,
)

pytestmark = pytest.mark.e2e

NAME, PHONE = "司马懿芳", "13912348765"
ID_NUMBER = "11010519900307123" + resident_id_check_char("11010519900307123")
TYPED = f"{NAME}反映：手机{PHONE}，身份证{ID_NUMBER}，转账失败"
VALUES = (NAME, PHONE, ID_NUMBER)
SURVEY = {
    "title": "网点服务满意度",
    "channel": "app",
    "opens_at": "2020-01-01T00:00:00Z",
    "closes_at": "2099-01-01T00:00:00Z",
    "questions": [
        {"id": "nps", "type": "nps", "text": "推荐意愿"},
        {"id": "why", "type": "free_text", "text": "原因", "required": False},
    ],
}


def _leaks(suite: WholeSuite) -> list[str]:
    """Each of the person's values still in an SQLite file or a PostgreSQL text column of any service."""
    found = []
    for name in SERVICES:
        db = Database(suite.procs[name].env[f"{name.upper()}_DATABASE_URL"])
        try:
            found += [f"{name}: {where}: {v}" for v in VALUES for where in stored_in_clear(db, v)]
        finally:
            db.dispose()
    return found


def _typed_reasons(gw: httpx.Client, cid: str, staff: dict, supervisor: dict) -> None:
    """The person's values typed into every other reason the suite keeps (each sealed at rest)."""
    big = {"points": 5000, "reason": f"补录{NAME}的积分，{TYPED}"}
    pending = ok(gw.post(f"/api/v1/loyalty/accounts/{cid}/adjustments", json=big, headers=staff), 202)
    rejection = {"reason": f"凭证不符，{TYPED}"}
    ok(gw.post(f"/api/v1/loyalty/approvals/{pending['id']}/reject", json=rejection, headers=supervisor), 200)
    flag = {"do_not_contact": True, "reason": TYPED}
    ok(gw.put(f"/api/v1/customers/{cid}/do-not-contact", json=flag, headers=staff), 200)
    signed = {"agreement_type": "e_banking", "version": "2026.1", "channel": "counter"}
    agreement = ok(gw.post(f"/api/v1/customers/{cid}/agreements", json=signed, headers=staff), 201)
    revoke = f"/api/v1/customers/{cid}/agreements/{agreement['id']}/revoke"
    ok(gw.post(revoke, json={"reason": TYPED}, headers=staff), 200)
    ok(gw.get(f"/api/v1/customers/{cid}/personal-data", params={"reason": TYPED}, headers=supervisor), 200)


def test_an_erased_customer_leaves_no_value_in_any_service(whole_suite, auth):  # noqa: F811 (the fixture)
    suite = whole_suite
    http = {name: httpx.Client(base_url=p.url, timeout=30) for name, p in suite.procs.items()}
    gw, staff, supervisor = http["gateway"], auth("staff", branch="BJ0001"), auth("supervisor", branch="BJ0001")
    try:
        cid = enrolled_customer(gw, staff, name=NAME, id_number=ID_NUMBER, phone=PHONE)
        me = auth("customer", sub=cid)
        adjustment = {"points": 50, "reason": f"补录{NAME}的积分"}
        ok(gw.post(f"/api/v1/loyalty/accounts/{cid}/adjustments", json=adjustment, headers=staff), 201)
        _typed_reasons(gw, cid, staff, supervisor)

        survey = ok(gw.post("/api/v1/surveys", json=SURVEY, headers=staff), 201)
        ok(gw.post(f"/api/v1/surveys/{survey['id']}/publish", headers=staff), 200)
        drain(suite, http, auth("system"))  # feedback knows the customer
        answer = {"answers": {"nps": 4, "why": TYPED}}
        ok(gw.post(f"/api/v1/surveys/{survey['id']}/responses", json=answer, headers=me), 201)
        complaint = {
            "customer_id": cid,
            "channel": "mobile_app",
            "business_type": "savings",
            "cause": "systems",
            "description": TYPED,
            "branch_code": "BJ0001",
        }
        complaint_id = ok(gw.post("/api/v1/complaints", json=complaint, headers=me), 201)["id"]
        step = {"action": "assign", "handler_sub": "staff-handler", "note": f"已联系{NAME}，电话{PHONE}"}
        ok(gw.post(f"/api/v1/complaints/{complaint_id}/steps", json=step, headers=supervisor), 200)
        drain(suite, http, auth("system"))
        assert _leaks(suite), "the values were never stored"

        erasure = {"reason": f"客户依法申请删除个人信息，{TYPED}", "requested_via": "counter"}
        ok(gw.post(f"/api/v1/customers/{cid}/erasure-requests", json=erasure, headers=me), 201)
        drain(suite, http, auth("system"))

        leaks = _leaks(suite)
        assert not leaks, leaks
        # what is kept for its retention period is still there, without the person
        kept = ok(gw.get(f"/api/v1/complaints/{complaint_id}", headers=supervisor), 200)
        assert kept["description"] == "[erased]" and kept["state"]
        statement = ok(gw.get(f"/api/v1/loyalty/accounts/{cid}/statement", headers=supervisor), 200)
        assert statement["items"] and all(item.get("reason") is None for item in statement["items"])
        assert str(uuid.UUID(cid)) == cid
    finally:
        for client in http.values():
            client.close()
