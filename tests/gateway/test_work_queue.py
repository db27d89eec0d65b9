"""GET /api/v1/work-queue against stand-in services over real HTTP: every source merged soonest due
first, a source away or refusing named in `partial` (never silently missing), and who may call it."""

import pytest

from tests.gateway.standins import CARE_TASKS

PATH = "/api/v1/work-queue"


def test_the_queue_merges_every_source_soonest_due_first(suite_gateway, standins, auth):
    headers = {**auth("staff", sub="rm-1"), "X-Request-ID": "wq-1"}
    r = suite_gateway().get(PATH, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["partial"] == []
    assert [(i["kind"], i["id"], i["service"]) for i in body["items"]] == [
        ("callback_due", "f-1", "feedback"),
        ("complaint_overdue", "c-8", "feedback"),  # once, though it is also at risk
        ("complaint_at_risk", "c-7", "feedback"),
        ("care_task", "t-1", "loyalty"),
        ("detractor_follow_up", "f-2", "feedback"),
    ]
    care = body["items"][3]
    assert (care["summary"], care["customer_id"], care["item"]) == ("risk_expiry", "cu-1", CARE_TASKS[0])
    queries = {s["path"]: s["query"] for st in standins.values() for s in st.seen}
    assert queries["/v1/loyalty/care-tasks"] == "mine=true&status=open&limit=200"
    assert queries["/v1/complaints/escalations"] == "handler=me"
    assert queries["/v1/follow-ups"] == "status=open&limit=200&branch_code=BR0001"  # the caller's branch
    for service in ("loyalty", "feedback"):
        seen = standins[service].seen
        assert seen and all(s["authorization"] == headers["Authorization"] for s in seen)
        assert all(s["x-request-id"] == "wq-1" for s in seen)


@pytest.mark.parametrize("away", ["loyalty", "feedback"])
def test_a_source_that_does_not_answer_is_named(suite_gateway, dead_url, auth, away):
    body = suite_gateway(**{f"{away}_url": dead_url}).get(PATH, headers=auth("supervisor")).json()
    gaps = {(g["part"], g["service"], g["reason"]) for g in body["partial"]}
    expected = {"loyalty": {"care_tasks"}, "feedback": {"complaints", "follow_ups"}}[away]
    assert gaps == {(part, away, "unavailable") for part in expected}
    assert {i["service"] for i in body["items"]} == {"loyalty", "feedback"} - {away}


def test_a_refusing_or_slow_source_is_named_with_its_reason(suite_gateway, standins, auth):
    standins["loyalty"].status = 403
    standins["feedback"].delay = 5
    body = suite_gateway(overview_budget_seconds=0.5).get(PATH, headers=auth("admin", branch=None)).json()
    assert {(g["part"], g["reason"]) for g in body["partial"]} == {
        ("care_tasks", "forbidden"),
        ("complaints", "timeout"),
        ("follow_ups", "timeout"),
    }
    assert body["items"] == []


def test_only_staff_supervisors_and_admins_have_a_queue(suite_gateway, auth):
    gw = suite_gateway()
    for role in ("staff", "supervisor", "admin"):
        assert gw.get(PATH, headers=auth(role)).status_code == 200, role
    for role in ("customer", "system"):
        r = gw.get(PATH, headers=auth(role))
        assert r.status_code == 403 and r.json()["code"] in ("role_forbidden", "insufficient_scope"), role
    assert gw.get(PATH).status_code == 401


def test_the_queue_is_in_the_gateways_openapi(suite_gateway, auth):
    doc = suite_gateway().get("/api/openapi.json").json()
    operation = doc["paths"]["/api/v1/work-queue"]["get"]
    assert set(operation["responses"]) >= {"200", "401", "403", "429"}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(doc["components"]["schemas"][schema]["properties"]) == {"items", "partial", "generated_at"}
