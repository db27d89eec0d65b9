"""The supervisors' complaint report on fixed data, on both databases."""

import uuid
from datetime import UTC, datetime

import pytest

from tests.feedback import factories as f


def test_report_counts_ages_decisions_and_top_causes(client, auth, clock):
    staff = auth("staff")
    a = f.file(client, staff, f.complaint(channel="phone_hotline", cause="fund_security", branch_code="BJ0001"))
    f.file(client, staff, f.complaint(channel="phone_hotline", cause="fund_security", branch_code="BJ0001"))
    b = f.file(client, staff, f.complaint(channel="mobile_app", cause="systems", branch_code="SH0001"))
    f.to_investigating(client, staff, a["id"])
    clock.advance(days=10)
    f.step(client, staff, a["id"], "decide", **f.decision())
    clock.advance(days=10)  # one more; b is now 20 days old and overdue
    f.file(client, staff, f.complaint(channel="mobile_app", cause="marketing", branch_code="SH0001"))
    f.to_investigating(client, staff, b["id"])
    f.step(client, staff, b["id"], "decide", **f.decision())
    r = client.get("/v1/complaints/reports", headers=auth("supervisor"))
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["received"] == 4 and rep["decided"] == 2
    assert rep["median_days_to_decision"] == 15.0 and rep["share_decided_within_15_days"] == 0.5
    assert {x["band"]: x["count"] for x in rep["open_by_age"]} == {
        "0-7": 1,
        "8-15": 0,
        "16-30": 1,
        "31-60": 0,
        "61+": 0,
    }
    assert rep["overdue"] == 1 and rep["at_risk"] == 0
    by_channel = {(x["month"], x["code"]): x["count"] for x in rep["by_channel"]}
    assert by_channel == {("2026-03", "phone_hotline"): 2, ("2026-03", "mobile_app"): 2}
    top = {x["branch_code"]: [(c["code"], c["count"]) for c in x["causes"]] for x in rep["top_causes_by_branch"]}
    assert top == {"BJ0001": [("fund_security", 2)], "SH0001": [("marketing", 1), ("systems", 1)]}
    assert rep["handling_satisfaction"]["responses"] == 0


def test_report_months_and_period(client, auth, clock):
    staff = auth("staff")
    f.file(client, staff, f.complaint(business_type="loans"))
    clock.advance(days=31)
    f.file(client, staff, f.complaint(business_type="fees"))
    rep = client.get("/v1/complaints/reports", headers=auth("admin")).json()
    assert {(x["month"], x["code"]): x["count"] for x in rep["by_business_type"]} == {
        ("2026-03", "loans"): 1,
        ("2026-04", "fees"): 1,
    }
    april = client.get("/v1/complaints/reports", params={"from": "2026-04-01T00:00:00Z"}, headers=auth("admin")).json()
    assert april["received"] == 1
    bad = client.get("/v1/complaints/reports", params={"from": "2026-04-01T00:00:00"}, headers=auth("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "from"]


@pytest.mark.parametrize("settings_overrides", [{"handling_survey_id": "00000000-0000-4000-8000-000000000001"}])
def test_report_satisfaction_with_handling(client, auth, feedback_db, settings_overrides):
    from services.feedback.models import Survey

    with feedback_db.write() as s:  # the handling survey, published under the configured id
        body = f.survey(questions=[{"id": "csat", "type": "csat", "text": "对投诉处理满意吗？"}])
        s.add(
            Survey(
                id=uuid.UUID(settings_overrides["handling_survey_id"]),
                version=1,
                state="published",
                title=body["title"],
                questions=body["questions"],
                audience_kind="all",
                channel="app",
                opens_at=datetime(2026, 1, 1, tzinfo=UTC),
                closes_at=datetime(2026, 12, 31, tzinfo=UTC),
                created_by="t",
            )
        )
        s.commit()
    staff = auth("staff")
    c = f.file(client, staff)
    f.to_decided(client, staff, c["id"])
    f.step(client, staff, c["id"], "close")
    sid = settings_overrides["handling_survey_id"]
    f.answer(client, auth("customer", sub=c["customer_id"]), sid, csat=4)
    f.answer(client, auth("customer"), sid, csat=1)  # not a complainant: not counted
    rep = client.get("/v1/complaints/reports", headers=auth("supervisor")).json()
    assert rep["handling_satisfaction"]["csat"] == {"value": 100.0, "n": 1, "small_sample": True}


@pytest.mark.parametrize("role", ["staff", "customer", "system"])
def test_report_as_other_roles_is_forbidden(client, auth, role):
    assert client.get("/v1/complaints/reports", headers=auth(role)).status_code == 403
