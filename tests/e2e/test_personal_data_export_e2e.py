"""A person's data export through the gateway holds a part from each of the four services (PIPL art.
45; issue #16): a customer registered in profile, with points and an event registration in loyalty, a
complaint and a survey response in feedback, and classified by segmentation, exports their data after
the feeds drain. Each part holds the person's own data, each service logged the export, and the HTML
document shows it. With a service stopped, the export says that part is missing; with profile
stopped there is no export (503). SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.profile.service.identity import resident_id_check_char
from tests.e2e.whole_suite import drain, enrolled_customer, ok, whole_suite  # noqa: F401 (a fixture)

pytestmark = pytest.mark.e2e

NAME, PHONE = "欧阳晓东", "13912340042"
ID_NUMBER = "11010519850412301" + resident_id_check_char("11010519850412301")
SURVEY = {
    "title": "网点服务满意度",
    "channel": "app",
    "opens_at": "2020-01-01T00:00:00Z",
    "closes_at": "2099-01-01T00:00:00Z",
    "questions": [{"id": "nps", "type": "nps", "text": "推荐意愿"}],
}


def _customer_with_data_everywhere(gw: httpx.Client, suite, http, auth) -> str:
    staff, supervisor = auth("staff", branch="BJ0001"), auth("supervisor", branch="BJ0001")
    cid = enrolled_customer(gw, staff, name=NAME, id_number=ID_NUMBER, phone=PHONE)
    me = auth("customer", sub=cid)
    adjustment = {"points": 50, "reason": "开户礼遇积分"}
    ok(gw.post(f"/api/v1/loyalty/accounts/{cid}/adjustments", json=adjustment, headers=staff), 201)
    starts = datetime.now(UTC) + timedelta(days=7)
    event = {
        "title": "理财知识讲座",
        "category": "lecture",
        "branch_code": "BJ0001",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": 30,
    }
    event_id = ok(gw.post("/api/v1/loyalty/customer-events", json=event, headers=supervisor), 201)["id"]
    registration = {"customer_id": cid}
    ok(gw.post(f"/api/v1/loyalty/customer-events/{event_id}/registrations", json=registration, headers=me), 201)

    survey = ok(gw.post("/api/v1/surveys", json=SURVEY, headers=staff), 201)
    ok(gw.post(f"/api/v1/surveys/{survey['id']}/publish", headers=staff), 200)
    drain(suite, http, auth("system"))  # feedback knows the customer
    ok(gw.post(f"/api/v1/surveys/{survey['id']}/responses", json={"answers": {"nps": 9}}, headers=me), 201)
    complaint = {
        "customer_id": cid,
        "channel": "mobile_app",
        "business_type": "savings",
        "cause": "systems",
        "description": "手机银行转账失败",
        "branch_code": "BJ0001",
    }
    ok(gw.post("/api/v1/complaints", json=complaint, headers=me), 201)
    drain(suite, http, auth("system"))
    return cid


def _exported_by(part: dict, sub: str) -> bool:
    return any(a["action"] == "personal_data.exported" and a["actor_sub"] == sub for a in part["data"]["access_log"])


def test_export_holds_a_part_from_each_service_and_names_what_is_missing(whole_suite, auth):  # noqa: F811
    suite = whole_suite
    http = {name: httpx.Client(base_url=p.url, timeout=30) for name, p in suite.procs.items()}
    gw = http["gateway"]
    try:
        cid = _customer_with_data_everywhere(gw, suite, http, auth)
        me = auth("customer", sub=cid)
        path = f"/api/v1/customers/{cid}/personal-data-export"

        export = ok(gw.get(path, headers=me), 200)
        assert (export["complete"], export["missing"]) == (True, [])
        assert [(m["part"], m["service"]) for m in export["manifest"]] == [
            ("profile", "profile"),
            ("loyalty", "loyalty"),
            ("feedback", "feedback"),
            ("segmentation", "segmentation"),
        ]
        assert all(m["produced_at"] for m in export["manifest"])
        profile = export["profile"]
        assert (profile["customer"]["name"], profile["customer"]["phone"]) == (NAME, PHONE)
        assert any(e["action"] == "personal_data.exported" and e["actor_sub"] == cid for e in profile["access_log"])
        loyalty = export["loyalty"]["data"]
        assert loyalty["account"]["customer_id"] == cid
        assert [e["reason"] for e in loyalty["ledger"] if e["kind"] == "adjust"] == ["开户礼遇积分"]
        assert [r["event"]["title"] for r in loyalty["event_registrations"]] == ["理财知识讲座"]
        feedback = export["feedback"]["data"]
        assert [c["description"] for c in feedback["complaints"]] == ["手机银行转账失败"]
        assert [r["nps"] for r in feedback["survey_responses"]] == [9]
        segmentation = export["segmentation"]["data"]
        assert segmentation["membership"]["classes"]["customer_type"] == "individual"
        assert segmentation["membership_history"]
        for service in ("loyalty", "feedback", "segmentation"):
            assert export[service]["customer_id"] == cid
            assert _exported_by(export[service], cid), f"{service} did not log the export"

        page = gw.get(path, params={"format": "html"}, headers=me)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert NAME in page.text and "理财知识讲座" in page.text and "个人信息副本" in page.text

        suite.procs["loyalty"].stop()
        partial = ok(gw.get(path, headers=auth("supervisor", branch="BJ0001")), 200)
        assert partial["complete"] is False and partial["loyalty"] is None
        assert [(m["part"], m["reason"]) for m in partial["missing"]] == [("loyalty", "unavailable")]
        assert [m["part"] for m in partial["manifest"]] == ["profile", "feedback", "segmentation"]

        suite.procs["profile"].stop()
        failed = gw.get(path, headers=me)
        assert (failed.status_code, failed.json()["code"]) == (503, "export_unavailable")
    finally:
        for client in http.values():
            client.close()
