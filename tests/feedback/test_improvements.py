"""Improvement actions on both databases: opened from a complaint cause, a survey driver or a frequent term,
changed under If-Match through their statuses, overdue in lists and the report, their effect measured, each
write on the feed, and every role and error the routes declare."""

import uuid

import pytest

from tests.event_contract import problems_with
from tests.feedback import factories as f

BASE = "/v1/improvement-actions"


def action(survey_id: str | None = None, **overrides) -> dict:
    links: list[dict] = [{"kind": "complaint_cause", "cause": "service_attitude"}]
    if survey_id:
        links += [
            {"kind": "survey_driver", "survey_id": survey_id, "question_id": "wait", "answer": ">30min"},
            {"kind": "survey_term", "survey_id": survey_id, "term": "排队"},
        ]
    body = {
        "title": "缩短柜台排队时间",
        "plan": "高峰时段增开窗口，引导客户使用自助设备",
        "owner": "supervisor-wang",
        "branch_code": "BJ0001",
        "due_on": "2026-03-31",
        "links": links,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def opened(client, headers, body: dict) -> dict:
    r = client.post(BASE, json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == '"1"' and r.headers["Location"] == f"{BASE}/{r.json()['id']}"
    return r.json()


def change(client, headers, action_id: str, etag: str | None, expect: int = 200, **fields):
    extra = {"If-Match": etag} if etag else {}
    r = client.patch(f"{BASE}/{action_id}", json=fields, headers={**headers, **extra})
    assert r.status_code == expect, r.text
    return r


def test_open_read_and_list_with_every_link_kind(client, auth):
    staff = auth("staff")
    s = f.published_survey(client, staff)
    a = opened(client, staff, action(s["id"]))
    assert a["status"] == "open" and a["overdue"] is False and a["finished_at"] is None
    assert [link["kind"] for link in a["links"]] == ["complaint_cause", "survey_driver", "survey_term"]
    r = client.get(f"{BASE}/{a['id']}", headers=auth("supervisor"))
    assert r.status_code == 200 and r.json() == a and r.headers["ETag"] == '"1"'
    opened(client, auth("admin"), action(branch_code=None, owner="staff-li"))  # bank-wide: the head office's
    page = client.get(BASE, params={"branch_code": "BJ0001"}, headers=auth("admin")).json()
    assert [x["id"] for x in page["items"]] == [a["id"]]
    mine = client.get(BASE, params={"owner": "staff-li"}, headers=auth("admin")).json()["items"]
    assert len(mine) == 1 and mine[0]["branch_code"] is None
    admin = auth("admin")
    first = client.get(BASE, params={"limit": 1}, headers=admin).json()
    second = client.get(BASE, params={"limit": 1, "cursor": first["next_cursor"]}, headers=admin).json()
    assert len(first["items"]) == len(second["items"]) == 1 and second["next_cursor"] is None
    assert first["items"][0]["id"] != second["items"][0]["id"]


def test_opening_names_what_is_wrong(client, auth):
    staff = auth("staff")
    s = f.published_survey(client, staff)
    cases = [
        (action(links=[{"kind": "complaint_cause", "cause": "weather"}]), ["body", "links", 0, "cause"]),
        (
            action(links=[{"kind": "survey_term", "survey_id": str(uuid.uuid4()), "term": "排队"}]),
            ["body", "links", 0, "survey_id"],
        ),
        (
            action(links=[{"kind": "survey_driver", "survey_id": s["id"], "question_id": "comment", "answer": "x"}]),
            ["body", "links", 0, "question_id"],
        ),
        (action(due_on="2026-03-01"), ["body", "due_on"]),
        (action(links=[]), ["body", "links"]),
        (action(links=[{"kind": "rumour", "cause": "service_attitude"}]), ["body", "links", 0]),
        (action(title="x"), ["body", "title"]),
    ]
    for body, loc in cases:
        r = client.post(BASE, json=body, headers=staff)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["loc"][: len(loc)] == loc, r.json()
    assert client.get(BASE, headers=staff).json()["items"] == []  # nothing half-written


def test_status_moves_under_if_match_and_on_the_feed(client, auth, clock):
    staff = auth("staff")
    a = opened(client, staff, action())
    change(client, staff, a["id"], None, 428, status="in_progress")
    change(client, staff, a["id"], '"7"', 412, status="in_progress")
    r = change(client, staff, a["id"], '"1"', status="in_progress", owner="staff-li")
    assert r.json()["status"] == "in_progress" and r.json()["owner"] == "staff-li" and r.headers["ETag"] == '"2"'
    assert change(client, staff, a["id"], '"2"', 409, status="open").json()["code"] == "improvement_status_move"
    missing = change(client, staff, a["id"], '"2"', 422, status="done")
    assert missing.json()["errors"][0]["loc"] == ["body", "outcome"]
    clock.advance(days=3)
    done = change(client, staff, a["id"], '"2"', status="done", outcome="高峰时段已增开两个窗口").json()
    assert done["status"] == "done" and done["finished_at"].startswith("2026-03-05")
    final = change(client, staff, a["id"], '"3"', 409, due_on="2026-04-30")
    assert final.json()["code"] == "improvement_action_final"
    feed = f.events(client, auth("system"))
    mine = [e for e in feed if e["type"].startswith("improvement_action.")]
    assert [e["type"] for e in mine] == ["improvement_action.opened"] + ["improvement_action.changed"] * 2
    assert mine[1]["data"]["changed"] == ["owner", "status"] and mine[2]["data"]["status"] == "done"
    assert all(e["subject_id"] == a["id"] for e in mine)
    assert [p for e in mine for p in problems_with("feedback", e)] == []


def test_unchanged_fields_make_no_revision_and_no_event(client, auth):
    staff = auth("staff")
    a = opened(client, staff, action())
    r = change(client, staff, a["id"], '"1"', owner="supervisor-wang")
    assert r.headers["ETag"] == '"1"'
    assert [e["type"] for e in f.events(client, auth("system")) if e["type"].startswith("improvement")] == [
        "improvement_action.opened"
    ]


def test_overdue_in_lists_and_the_report(client, auth, clock):
    staff = auth("staff")
    late = opened(client, staff, action(due_on="2026-03-03"))
    kept = opened(client, staff, action(due_on="2026-06-30", branch_code="SH0001"))
    bank_wide = opened(client, auth("admin"), action(due_on="2026-03-03", branch_code=None))
    finished = opened(client, staff, action(due_on="2026-03-03"))
    change(client, staff, finished["id"], '"1"', status="cancelled", outcome="并入另一项措施")
    clock.advance(days=5)
    assert client.get(f"{BASE}/{late['id']}", headers=staff).json()["overdue"] is True
    overdue = client.get(BASE, params={"overdue": "true"}, headers=auth("admin")).json()["items"]
    assert {x["id"] for x in overdue} == {late["id"], bank_wide["id"]}
    # staff of BR0001 see their subtree's actions only (the bank-wide one is the head office's)
    overdue = client.get(BASE, params={"overdue": "true"}, headers=staff).json()["items"]
    assert {x["id"] for x in overdue} == {late["id"]}
    on_time = client.get(BASE, params={"overdue": "false", "status": "open"}, headers=staff).json()["items"]
    assert [x["id"] for x in on_time] == [kept["id"]]
    mine = client.get(f"{BASE}/report", headers=auth("supervisor")).json()
    assert (mine["by_status"]["open"], mine["overdue"]) == (2, 1)
    assert [b["branch_code"] for b in mine["by_branch"]] == ["BJ0001", "SH0001"]
    assert {x["id"] for x in mine["overdue_actions"]} == {late["id"]}
    rep = client.get(f"{BASE}/report", headers=auth("admin")).json()
    assert rep["by_status"] == {"open": 3, "in_progress": 0, "done": 0, "cancelled": 1}
    assert rep["overdue"] == 2
    assert [(b["branch_code"], b["open"], b["overdue"]) for b in rep["by_branch"]] == [
        ("BJ0001", 1, 1),
        ("SH0001", 1, 0),
        (None, 1, 1),
    ]
    assert {x["id"] for x in rep["overdue_actions"]} == {late["id"], bank_wide["id"]}
    scrape = client.get("/metrics").text
    assert "feedback_improvement_actions_active 3.0" in scrape
    assert "feedback_improvement_actions_overdue 2.0" in scrape


def test_effect_counts_complaints_of_the_cause_in_the_branch_before_and_after(client, auth, clock):
    staff = auth("staff")
    for branch, cause in [("BJ0001", "service_attitude")] * 3 + [
        ("SH0001", "service_attitude"),
        ("BJ0001", "marketing"),
    ]:
        f.file(client, staff, f.complaint(branch_code=branch, cause=cause))
    clock.advance(days=10)
    a = opened(client, staff, action(due_on="2026-04-30"))
    clock.advance(days=20)
    change(client, staff, a["id"], '"1"', status="done", outcome="培训完成")
    clock.advance(days=14)
    f.file(client, staff, f.complaint(branch_code="BJ0001", cause="service_attitude"))
    clock.advance(days=1)
    e = client.get(f"{BASE}/{a['id']}/effect", params={"window_days": 30}, headers=auth("supervisor")).json()
    assert e["branch_code"] == "BJ0001" and e["before"]["days"] == 30.0 and e["after"]["days"] == 15.0
    assert e["complaints"] == [
        {"cause": "service_attitude", "before": 3, "after": 1, "before_per_30_days": 3.0, "after_per_30_days": 2.0}
    ]
    assert len(e["nps"]) == 1 and e["nps"][0]["survey_id"] is None and e["nps"][0]["before"]["n"] == 0


def test_effect_takes_nps_of_the_linked_survey(client, auth, clock):
    staff = auth("staff")
    s = f.published_survey(client, staff)
    for score in (2, 3, 10):
        f.answer(client, staff, s["id"], customer_id=f.known_customer(client), nps=score)
    clock.advance(days=1)
    a = opened(client, auth("admin"), action(s["id"], branch_code=None))
    for score in (9, 10, 6):
        f.answer(client, staff, s["id"], customer_id=f.known_customer(client), nps=score)
    clock.advance(days=1)
    e = client.get(f"{BASE}/{a['id']}/effect", headers=auth("admin")).json()
    (row,) = e["nps"]
    assert row["survey_id"] == s["id"]
    assert (row["before"]["value"], row["before"]["n"], row["before"]["small_sample"]) == (-33.3, 3, True)
    assert (row["after"]["value"], row["after"]["n"]) == (33.3, 3)
    assert e["complaints"][0]["before"] == 0


@pytest.mark.parametrize("days", [6, 367])
def test_effect_window_is_bounded(client, auth, days):
    a = opened(client, auth("staff"), action())
    r = client.get(f"{BASE}/{a['id']}/effect", params={"window_days": days}, headers=auth("staff"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "window_days"]


def test_unknown_actions_are_404(client, auth):
    missing = f"{BASE}/{uuid.uuid4()}"
    staff = auth("staff")
    for r in (
        client.get(missing, headers=staff),
        client.get(f"{missing}/effect", headers=staff),
        client.patch(missing, json={"owner": "x"}, headers={**staff, "If-Match": '"1"'}),
    ):
        assert r.status_code == 404 and r.json()["code"] == "improvement_action_not_found"


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_staff_roles_may_open_and_read(client, auth, role):
    a = opened(client, auth(role), action())
    assert client.get(f"{BASE}/report", headers=auth(role)).status_code == 200
    assert client.get(f"{BASE}/{a['id']}/effect", headers=auth(role)).status_code == 200


@pytest.mark.parametrize("role", ["customer", "system"])
def test_customers_and_systems_may_not(client, auth, role):
    a = opened(client, auth("staff"), action())
    headers = auth(role)
    for r in (
        client.post(BASE, json=action(), headers=headers),
        client.get(BASE, headers=headers),
        client.get(f"{BASE}/report", headers=headers),
        client.get(f"{BASE}/{a['id']}", headers=headers),
        client.get(f"{BASE}/{a['id']}/effect", headers=headers),
        client.patch(f"{BASE}/{a['id']}", json={"owner": "x"}, headers={**headers, "If-Match": '"1"'}),
    ):
        assert r.status_code == 403 and r.json()["code"] == "role_forbidden", r.text


def test_a_token_is_required(client):
    assert client.get(BASE).status_code == 401
    assert client.post(BASE, json=action()).status_code == 401


def test_actions_outside_the_callers_branch_subtree_are_404_and_left_out(client, auth):
    a = opened(client, auth("staff"), action())
    outside = auth("supervisor", branch="CT0002")
    for r in (
        client.get(f"{BASE}/{a['id']}", headers=outside),
        client.get(f"{BASE}/{a['id']}/effect", headers=outside),
        client.patch(f"{BASE}/{a['id']}", json={"plan": "x"}, headers={**outside, "If-Match": '"1"'}),
    ):
        assert r.status_code == 404 and r.json()["code"] == "improvement_action_not_found"
    assert client.get(BASE, headers=outside).json()["items"] == []
    rep = client.get(f"{BASE}/report", headers=outside).json()
    assert (sum(rep["by_status"].values()), rep["by_branch"], rep["overdue_actions"]) == (0, [], [])
    assert client.get(f"{BASE}/{a['id']}", headers=auth("staff", branch="TP0001")).status_code == 200  # above
    for body, headers in (
        (action(branch_code="BR0002"), auth("staff")),  # another branch's
        (action(branch_code=None), auth("supervisor")),  # bank-wide: the head office's
    ):
        r = client.post(BASE, json=body, headers=headers)
        assert r.status_code == 422 and r.json()["errors"][0]["type"] == "out_of_reach", r.text
