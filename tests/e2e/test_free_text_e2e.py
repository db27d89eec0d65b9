"""Free text and staff overviews across real processes, on both databases: what a customer and staff
type into a complaint, its steps and the interaction log is in no database file (SQLite, WAL included)
or text column (PostgreSQL) of feedback or profile, even before any erasure, and reads back masked
through the gateway; each staff overview at the gateway writes one record, with its purpose, on
profile's access log (a customer's look at its own overview does not)."""

import httpx
import pytest

from services.common.db import Database
from services.profile.service.identity import resident_id_check_char
from tests.dbkit import stored_in_clear
from tests.e2e.whole_suite import (  # noqa: F401 (whole_suite, a fixture)
    enrolled_customer,
    ok,
    whole_suite,
)

pytestmark = pytest.mark.e2e

ID_NUMBER = "11010519850412301" + resident_id_check_char("11010519850412301")
MARK = "自助机吞卡无人理睬"
TYPED = f"{MARK}，卡号6217 0000 1111 2222 333，手机139 1234 8765"


def _viewed(gw: httpx.Client, cid: str, supervisor: dict) -> list[dict]:
    log = ok(gw.get(f"/api/v1/customers/{cid}/access-log", headers=supervisor), 200)["items"]
    return [e for e in log if e["action"] == "personal_data.viewed"]


def test_free_text_is_sealed_and_overviews_are_on_the_access_log(whole_suite, auth):  # noqa: F811 (the fixture)
    suite = whole_suite
    gw = httpx.Client(base_url=suite.procs["gateway"].url, timeout=30)
    staff, supervisor = auth("staff", sub="emp-7", branch="BJ0001"), auth("supervisor", branch="BJ0001")
    try:
        cid = enrolled_customer(gw, staff, name="欧阳明", id_number=ID_NUMBER, phone="13912348765")
        complaint = {
            "customer_id": cid,
            "channel": "self_service",
            "business_type": "bank_cards",
            "cause": "systems",
            "description": TYPED,
            "branch_code": "BJ0001",
        }
        filed = ok(gw.post("/api/v1/complaints", json=complaint, headers=auth("customer", sub=cid)), 201)
        step = {"action": "note", "note": f"回电：{TYPED}"}
        ok(gw.post(f"/api/v1/complaints/{filed['id']}/steps", json=step, headers=staff), 200)
        contact = {"channel": "phone", "direction": "inbound", "topic": "吞卡", "summary": TYPED}
        ok(gw.post(f"/api/v1/customers/{cid}/interactions", json=contact, headers=staff), 201)

        read = ok(gw.get(f"/api/v1/complaints/{filed['id']}", headers=staff), 200)
        assert read["description"] == f"{MARK}，卡号621700*********2333，手机139****8765"
        full = ok(gw.get(f"/api/v1/complaints/{filed['id']}?reveal=true&purpose=compliance", headers=supervisor), 200)
        assert full["description"] == TYPED
        for name in ("feedback", "profile"):
            db = Database(suite.procs[name].env[f"{name.upper()}_DATABASE_URL"])
            try:
                assert stored_in_clear(db, MARK) == [], name
            finally:
                db.dispose()

        assert _viewed(gw, cid, supervisor) == []
        ok(gw.get(f"/api/v1/customers/{cid}/overview", headers=staff), 200)
        ok(gw.get(f"/api/v1/customers/{cid}/overview?purpose=marketing", headers=staff), 200)
        ok(gw.get(f"/api/v1/customers/{cid}/overview", headers=auth("customer", sub=cid)), 200)
        viewed = _viewed(gw, cid, supervisor)
        assert [(e["actor_sub"], e["actor_role"], e["reason"]) for e in viewed] == [
            ("emp-7", "staff", "purpose: marketing"),
            ("emp-7", "staff", "purpose: customer_service"),
        ]  # newest first; one each, none for the customer's own look
        bad = gw.get(f"/api/v1/customers/{cid}/overview?purpose=curiosity", headers=staff)
        assert bad.status_code == 422
    finally:
        gw.close()
