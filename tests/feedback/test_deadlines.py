"""Every deadline rule with an injected clock: 15 days, extension to 30 and 60, pauses, restart on new
facts, withdrawal, the holiday setting, the 80% at-risk flag, overdue (gauge, event, sweep), review window."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.feedback.service.deadlines import DeadlineRules, StepView, compute_deadline
from tests.feedback import factories as f

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _d(steps, now, **rules):
    return compute_deadline(
        T0,
        [StepView(a, T0 + timedelta(days=d), data) for a, d, data in steps],
        DeadlineRules(**rules),
        T0 + timedelta(days=now),
    )


def test_base_deadline_is_15_calendar_days():
    d = _d([], now=0)
    assert d.due_at == T0 + timedelta(days=15) and d.days_left == 15 and not d.at_risk and not d.overdue


def test_at_risk_from_80_percent_of_the_time():
    assert not _d([], now=11.9).at_risk
    assert _d([], now=12).at_risk and not _d([], now=12).overdue
    assert _d([], now=15.01).overdue and not _d([], now=15.01).at_risk


def test_extensions_move_the_due_date_to_30_then_60():
    steps = [("extend", 3, {"to_days": 30}), ("extend", 20, {"to_days": 60})]
    assert _d(steps[:1], now=4).due_at == T0 + timedelta(days=30)
    assert _d(steps, now=21).due_at == T0 + timedelta(days=60)


def test_pause_time_does_not_count():
    steps = [("pause", 5, {}), ("resume", 9, {})]
    d = _d(steps, now=10)
    assert d.paused_seconds == 4 * 86400 and d.due_at == T0 + timedelta(days=19) and not d.is_paused


def test_an_open_pause_counts_until_now():
    d = _d([("pause", 5, {})], now=8)
    assert d.is_paused and d.due_at == T0 + timedelta(days=18)


def test_new_facts_restart_the_clock_and_drop_earlier_extensions_and_pauses():
    steps = [("extend", 2, {"to_days": 30}), ("pause", 3, {}), ("resume", 4, {}), ("add_facts", 10, {})]
    d = _d(steps, now=11)
    assert d.clock_started_at == T0 + timedelta(days=10) and d.limit_days == 15 and d.paused_seconds == 0
    assert d.due_at == T0 + timedelta(days=25) and d.restarts == 1
    assert [e["counts"] for e in d.extensions] == [False] and [p["counts"] for p in d.pauses] == [False]


def test_withdrawal_stops_the_clock():
    d = _d([("withdraw", 3, {})], now=40)
    assert d.stopped_at == T0 + timedelta(days=3) and not d.overdue and d.days_left is None


def test_decision_stops_the_clock_and_opens_the_review_window():
    d = _d([("decide", 10, {"communicated_at": "2026-03-12T02:00:00Z"})], now=50, review_request_days=30)
    assert not d.overdue and d.review_request_due_at == datetime(2026, 4, 11, 2, 0, tzinfo=UTC)


def test_deadline_on_a_holiday_moves_to_the_next_non_holiday():
    # 2026-03-17 (Beijing time) and the 18th are listed: the deadline moves to the 19th.
    d = _d([], now=0, holidays=frozenset({date(2026, 3, 17), date(2026, 3, 18)}))
    assert d.due_at == T0 + timedelta(days=17)
    assert _d([], now=0, holidays=frozenset({date(2026, 3, 16)})).due_at == T0 + timedelta(days=15)


# ---- through the API, with the clock moving ------------------------------------------------------------


def _open(client, auth) -> dict:
    return f.file(client, auth("staff"))


def test_api_first_extension_to_30_needs_a_reason_and_is_shown(client, auth, clock):
    c = _open(client, auth)
    clock.advance(days=5)
    e = f.step(client, auth("staff"), c["id"], "extend", reason="案情复杂，需调取监控")
    assert e["deadline"]["limit_days"] == 30 and e["deadline"]["due_at"] == "2026-04-01T02:00:00Z"
    assert e["deadline"]["days_left"] == 25
    assert e["deadline"]["extensions"][0]["reason"] == "案情复杂，需调取监控"


def test_api_second_extension_to_60_needs_a_second_person_and_notice(client, auth, clock):
    c = _open(client, auth)
    f.step(client, auth("staff"), c["id"], "extend", reason="复杂")
    second = {"action": "extend", "reason": "仍需核查"}
    r = client.post(f"/v1/complaints/{c['id']}/steps", json=second, headers=auth("staff"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "notice_sent_at"]
    asked = client.post(
        f"/v1/complaints/{c['id']}/steps",
        json={**second, "notice_sent_at": "2026-03-02T01:00:00Z"},
        headers=auth("staff", sub="clerk-li"),
    )
    assert asked.status_code == 202, asked.text
    assert (asked.json()["action"], asked.json()["payload"]["to_days"]) == ("complaint.extend", 60)
    still = client.get(f"/v1/complaints/{c['id']}", headers=auth("staff")).json()
    assert still["deadline"]["limit_days"] == 30  # nothing applied yet
    done = client.post(
        f"/v1/complaints/approvals/{asked.json()['id']}/approve", headers=auth("supervisor", sub="sup-zhao")
    )
    assert done.status_code == 200, done.text
    ok = client.get(f"/v1/complaints/{c['id']}", headers=auth("staff")).json()
    assert ok["deadline"]["due_at"] == "2026-05-01T02:00:00Z"
    assert ok["steps"][-1]["actor_sub"] == "clerk-li"
    assert ok["deadline"]["extensions"][1]["approved_by"] == "sup-zhao"
    r = client.post(
        f"/v1/complaints/{c['id']}/steps",
        headers=auth("supervisor"),
        json={**second, "notice_sent_at": "2026-03-02T01:00:00Z"},
    )
    assert r.status_code == 409 and r.json()["code"] == "complaint_extension_exhausted"


def test_api_extension_after_the_deadline_is_409(client, auth, clock):
    c = _open(client, auth)
    clock.advance(days=16)
    r = client.post(
        f"/v1/complaints/{c['id']}/steps", json={"action": "extend", "reason": "晚了"}, headers=auth("staff")
    )
    assert r.status_code == 409 and r.json()["code"] == "complaint_overdue"


def test_api_pause_and_resume_shift_the_due_date(client, auth, clock):
    c = _open(client, auth)
    clock.advance(days=2)
    p = f.step(
        client, auth("staff"), c["id"], "pause", reason="outside_appraisal", notice_sent_at="2026-03-04T01:00:00Z"
    )
    assert (
        p["deadline"]["is_paused"] and p["allowed_actions"].count("resume") == 1 and "pause" not in p["allowed_actions"]
    )
    clock.advance(days=3)
    r = f.step(client, auth("staff"), c["id"], "resume")
    assert r["deadline"]["paused_seconds"] == 3 * 86400 and r["deadline"]["due_at"] == "2026-03-20T02:00:00Z"
    assert r["deadline"]["pauses"][0]["reason"] == "outside_appraisal"


def test_api_resume_when_not_paused_and_decide_while_paused_are_409(client, auth):
    c = _open(client, auth)
    f.to_investigating(client, auth("staff"), c["id"])
    r = client.post(f"/v1/complaints/{c['id']}/steps", json={"action": "resume"}, headers=auth("staff"))
    assert r.status_code == 409 and "resume" not in r.json()["allowed_actions"]
    f.step(client, auth("staff"), c["id"], "pause", reason="testing", notice_sent_at="2026-03-02T01:00:00Z")
    r = client.post(f"/v1/complaints/{c['id']}/steps", json={"action": "decide", **f.decision()}, headers=auth("staff"))
    assert r.status_code == 409 and "resume" in r.json()["allowed_actions"]


def test_api_new_facts_restart_the_clock(client, auth, clock):
    c = _open(client, auth)
    clock.advance(days=10)
    r = f.step(client, auth("staff"), c["id"], "add_facts", note="客户补充了转账凭证")
    assert r["deadline"]["clock_started_at"] == "2026-03-12T02:00:00Z" and r["deadline"]["days_left"] == 15
    assert r["deadline"]["restarts"] == 1


def test_api_withdrawal_ends_handling_that_day(client, auth, clock):
    c = _open(client, auth)
    clock.advance(days=3)
    w = f.step(client, auth("customer", sub=c["customer_id"]), c["id"], "withdraw")
    clock.advance(days=30)
    got = client.get(f"/v1/complaints/{c['id']}", headers=auth("staff")).json()
    assert got["deadline"]["stopped_at"] == "2026-03-05T02:00:00Z" and not got["deadline"]["overdue"]
    assert w["state"] == "withdrawn"


@pytest.mark.parametrize("settings_overrides", [{"holidays": "2026-03-17,2026-03-18"}])
def test_api_holiday_setting_moves_the_deadline(client, auth, settings_overrides):
    assert _open(client, auth)["deadline"]["due_at"] == "2026-03-19T02:00:00Z"


@pytest.mark.parametrize("settings_overrides", [{"complaint_days": 10}])
def test_api_deadline_days_are_a_setting(client, auth, settings_overrides):
    assert _open(client, auth)["deadline"]["due_at"] == "2026-03-12T02:00:00Z"


def test_api_late_decision_is_recorded_as_not_on_time(client, auth, clock):
    c = _open(client, auth)
    f.to_investigating(client, auth("staff"), c["id"])
    clock.advance(days=16)
    d = f.step(client, auth("staff"), c["id"], "decide", **f.decision())
    assert d["decision"]["on_time"] is False and not d["deadline"]["overdue"]


def test_api_review_request_after_the_window_is_409(client, auth, clock):
    c = _open(client, auth)
    f.to_decided(client, auth("staff"), c["id"])
    clock.advance(days=31)
    r = client.post(
        f"/v1/complaints/{c['id']}/steps",
        json={"action": "request_review", "reason": "不服"},
        headers=auth("customer", sub=c["customer_id"]),
    )
    assert r.status_code == 409 and r.json()["code"] == "complaint_review_window_closed"


def test_escalations_list_at_risk_and_overdue(client, auth, clock):
    old = _open(client, auth)
    clock.advance(days=4)
    middle = _open(client, auth)
    clock.advance(days=8)  # old: day 12 of 15 (80%) -> at risk; middle: day 8
    esc = client.get("/v1/complaints/escalations", headers=auth("staff")).json()
    assert [x["id"] for x in esc["at_risk"]] == [old["id"]] and esc["overdue"] == []
    clock.advance(days=4)  # old: day 16 -> overdue; middle: day 12 -> at risk
    esc = client.get("/v1/complaints/escalations", headers=auth("supervisor")).json()
    assert [x["id"] for x in esc["overdue"]] == [old["id"]] and [x["id"] for x in esc["at_risk"]] == [middle["id"]]
    assert client.get("/v1/complaints/escalations", headers=auth("customer")).status_code == 403


def test_overdue_gauge_and_idempotent_sweep_emit_one_event(client, auth, clock):
    c = _open(client, auth)
    decided = _open(client, auth)
    f.to_decided(client, auth("staff"), decided["id"])
    assert "feedback_complaints_overdue 0.0" in client.get("/metrics").text
    clock.advance(days=15, seconds=1)
    assert "feedback_complaints_overdue 1.0" in client.get("/metrics").text
    first = client.post("/v1/complaints/escalations/sweep", headers=auth("system")).json()
    again = client.post("/v1/complaints/escalations/sweep", headers=auth("supervisor")).json()
    assert first == {"overdue": 1, "newly_flagged": 1} and again == {"overdue": 1, "newly_flagged": 0}
    [ev] = f.events(client, auth("system"), "complaint.overdue")
    assert ev["data"] == {"complaint_id": c["id"], "due_at": "2026-03-17T02:00:00Z"}
    steps = client.get(f"/v1/complaints/{c['id']}", headers=auth("staff")).json()["steps"]
    assert steps[-1]["action"] == "flag_overdue"


@pytest.mark.parametrize("role", ["staff", "customer"])
def test_sweep_as_other_roles_is_forbidden(client, auth, role):
    assert client.post("/v1/complaints/escalations/sweep", headers=auth(role)).status_code == 403


def test_periodic_sweep_thread_flags_overdue_complaints(feedback_sqlite_template, tmp_path, auth):
    import time

    from fastapi.testclient import TestClient

    from services.common.db import Database
    from services.feedback.app import create_app
    from tests import dbkit
    from tests.feedback.conftest import Clock, feedback_settings

    db = Database(dbkit.sqlite_url(dbkit.copy_sqlite(feedback_sqlite_template, tmp_path / "sweep.db")))
    clock = Clock()
    app = create_app(
        feedback_settings(db.url, jobs_in_process=True, job_overdue_sweep_schedule="every 1s", jobs_tick_seconds=0.2),
        db=db,
        clock=clock,
    )
    with TestClient(app) as client:
        c = f.file(client, auth("staff"))
        clock.advance(days=16)
        deadline = time.monotonic() + 15
        while not f.events(client, auth("system"), "complaint.overdue") and time.monotonic() < deadline:
            time.sleep(0.2)
        [ev] = f.events(client, auth("system"), "complaint.overdue")
        assert ev["data"]["complaint_id"] == c["id"]
    db.dispose()
