"""Surveys: versions (a published version is immutable), responses validated per question type,
one response per customer, detractor follow-ups, survey.responded, roles."""

import uuid

import pytest

from tests.feedback import factories as f


def test_create_survey_is_a_draft_version_1(client, auth):
    resp = client.post("/v1/surveys", json=f.survey(), headers=auth("staff"))
    assert resp.status_code == 201
    s = resp.json()
    assert s["version"] == 1 and s["state"] == "draft" and s["audience"] == {"kind": "all"}
    assert [q["type"] for q in s["questions"]] == [
        "nps",
        "csat",
        "ces",
        "single_choice",
        "multiple_choice",
        "free_text",
    ]


@pytest.mark.parametrize("role", ["customer", "system"])
def test_create_survey_as_other_role_is_forbidden(client, auth, role):
    assert client.post("/v1/surveys", json=f.survey(), headers=auth(role)).status_code == 403


def test_create_survey_without_token_is_401(client):
    assert client.post("/v1/surveys", json=f.survey()).status_code == 401


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"questions": []}, "questions"),
        ({"questions": [{"id": "q", "type": "single_choice", "text": "x", "options": ["a"]}]}, "questions"),
        ({"questions": [{"id": "q", "type": "nps", "text": "x", "options": ["a", "b"]}]}, "questions"),
        ({"questions": [{"id": "q", "type": "free_text", "text": "x", "max_chars": 5000}]}, "max_chars"),
        ({"questions": [{"id": "Q!", "type": "nps", "text": "x"}]}, "id"),
        ({"audience": {"kind": "branch"}}, "audience"),
        ({"closes_at": "2025-01-01T00:00:00Z"}, "closes_at"),
        ({"channel": "pigeon"}, "channel"),
    ],
)
def test_create_survey_with_bad_definition_is_422(client, auth, overrides, needle):
    resp = client.post("/v1/surveys", json=f.survey(**overrides), headers=auth("staff"))
    assert resp.status_code == 422, resp.text
    assert needle in resp.text


def test_publish_then_edit_makes_a_new_version_and_keeps_the_published_one(client, auth):
    staff = auth("staff")
    created = client.post("/v1/surveys", json=f.survey(), headers=staff)
    assert created.headers["etag"] == '"1"'
    sid = created.json()["id"]
    pub = client.post(f"/v1/surveys/{sid}/publish", headers={**staff, "If-Match": '"1"'})
    s = pub.json()
    assert s["state"] == "published" and s["published_at"] == "2026-03-02T02:00:00Z" and pub.headers["etag"] == '"2"'
    again = client.post(f"/v1/surveys/{sid}/publish", headers=staff)
    assert again.status_code == 409 and again.json()["code"] == "survey_already_published"
    edit = client.put(f"/v1/surveys/{sid}", json=f.survey(title="第二版"), headers={**staff, "If-Match": '"2"'})
    edited = edit.json()
    assert edited["version"] == 2 and edited["state"] == "draft" and edit.headers["etag"] == '"3"'
    second = client.put(f"/v1/surveys/{sid}", json=f.survey(title="第二版改"), headers={**staff, "If-Match": '"3"'})
    assert second.json()["version"] == 2 and second.json()["title"] == "第二版改"
    v1 = client.get(f"/v1/surveys/{sid}", params={"version": 1}, headers=staff).json()
    assert v1["title"] == "网点服务满意度调查" and v1["state"] == "published"
    # a customer sees the published version only
    seen = client.get(f"/v1/surveys/{sid}", headers=auth("customer")).json()
    assert seen["version"] == 1
    assert client.get(f"/v1/surveys/{sid}", params={"version": 2}, headers=auth("customer")).status_code == 404
    listed = client.get("/v1/surveys", headers=staff).json()["items"]
    assert [(x["id"], x["version"]) for x in listed] == [(sid, 2)]
    assert client.get("/v1/surveys", headers=auth("customer")).json()["items"][0]["version"] == 1


def test_edit_survey_needs_a_current_if_match(client, auth):
    staff = auth("staff")
    sid = client.post("/v1/surveys", json=f.survey(), headers=staff).json()["id"]
    missing = client.put(f"/v1/surveys/{sid}", json=f.survey(), headers=staff)
    assert missing.status_code == 428 and missing.json()["code"] == "version_required"
    assert client.put(f"/v1/surveys/{sid}", json=f.survey(), headers={**staff, "If-Match": '"1"'}).status_code == 200
    stale = client.put(f"/v1/surveys/{sid}", json=f.survey(), headers={**staff, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["code"] == "version_stale"
    stale = client.post(f"/v1/surveys/{sid}/publish", headers={**staff, "If-Match": '"1"'})
    assert stale.status_code == 412
    bad = client.put(f"/v1/surveys/{sid}", json=f.survey(), headers={**staff, "If-Match": "nope"})
    assert bad.status_code == 422
    for role in ("customer", "system"):
        assert client.put(f"/v1/surveys/{sid}", json=f.survey(), headers=auth(role)).status_code == 403
        assert client.post(f"/v1/surveys/{sid}/publish", headers=auth(role)).status_code == 403


def test_unknown_survey_is_404(client, auth):
    sid = uuid.uuid4()
    assert client.get(f"/v1/surveys/{sid}", headers=auth("staff")).status_code == 404
    missing = client.put(f"/v1/surveys/{sid}", json=f.survey(), headers={**auth("staff"), "If-Match": '"1"'})
    assert missing.status_code == 404
    assert client.post(f"/v1/surveys/{sid}/publish", headers=auth("staff")).status_code == 404
    r = client.post(f"/v1/surveys/{sid}/responses", json={"answers": {"nps": 9}}, headers=auth("customer"))
    assert r.status_code == 404 and r.json()["code"] == "survey_not_found"


def test_draft_survey_cannot_be_answered(client, auth):
    s = client.post("/v1/surveys", json=f.survey(), headers=auth("staff")).json()
    assert (
        client.post(
            f"/v1/surveys/{s['id']}/responses", json={"answers": {"nps": 9}}, headers=auth("customer")
        ).status_code
        == 404
    )


def test_customer_answers_for_itself_and_event_is_emitted(client, auth):
    s = f.published_survey(client, auth("staff"))
    me = str(uuid.uuid4())
    r = f.answer(
        client,
        auth("customer", sub=me),
        s["id"],
        nps=9,
        csat=5,
        ces=2,
        wait="<10min",
        used=["app", "atm"],
        comment="服务很好",
    )
    assert r["customer_id"] == me and (r["nps"], r["csat"], r["ces"]) == (9, 5, 2) and r["follow_up_id"] is None
    [ev] = f.events(client, auth("system"), "survey.responded")
    assert ev["subject_id"] == me
    assert ev["data"] == {
        "survey_id": s["id"],
        "survey_version": 1,
        "response_id": r["id"],
        "channel": "app",
        "nps": 9,
        "csat": 5,
        "ces": 2,
        "responded_at": "2026-03-02T02:00:00Z",
    }


def test_staff_enters_a_response_for_a_customer(client, auth):
    s = f.published_survey(client, auth("staff"))
    cid = f.known_customer(client)
    r = f.answer(client, auth("staff", sub="staff-li"), s["id"], customer_id=cid, nps=10)
    assert r["customer_id"] == cid and r["entered_by"] == "staff-li"
    missing = client.post(f"/v1/surveys/{s['id']}/responses", json={"answers": {"nps": 10}}, headers=auth("staff"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["body", "customer_id"]


def test_customer_answering_for_another_is_forbidden(client, auth):
    s = f.published_survey(client, auth("staff"))
    r = client.post(
        f"/v1/surveys/{s['id']}/responses",
        json={"customer_id": str(uuid.uuid4()), "answers": {"nps": 1}},
        headers=auth("customer"),
    )
    assert r.status_code == 403 and r.json()["code"] == "response_forbidden"


def test_system_may_not_answer(client, auth):
    s = f.published_survey(client, auth("staff"))
    assert (
        client.post(
            f"/v1/surveys/{s['id']}/responses", json={"answers": {"nps": 1}}, headers=auth("system")
        ).status_code
        == 403
    )


BAD_ANSWERS = [
    ({"nps": 11}, "nps"),
    ({"nps": -1}, "nps"),
    ({"nps": "9"}, "nps"),
    ({"nps": True}, "nps"),
    ({"nps": 9, "csat": 7}, "csat"),
    ({"nps": 9, "csat": 0}, "csat"),
    ({"nps": 9, "ces": 8}, "ces"),
    ({"nps": 9, "ces": 0}, "ces"),
    ({"nps": 9, "wait": "forever"}, "wait"),
    ({"nps": 9, "wait": ["<10min"]}, "wait"),
    ({"nps": 9, "used": ["app", "app"]}, "used"),
    ({"nps": 9, "used": []}, "used"),
    ({"nps": 9, "used": ["fax"]}, "used"),
    ({"nps": 9, "used": "app"}, "used"),
    ({"nps": 9, "comment": "长" * 201}, "comment"),
    ({"nps": 9, "comment": 5}, "comment"),
    ({"nps": 9, "comment": "  "}, "comment"),
    ({}, "nps"),
    ({"nps": 9, "bogus": 1}, "bogus"),
]


def test_answer_validation_names_the_question(client, auth):
    s = f.published_survey(client, auth("staff"))
    for answers, question in BAD_ANSWERS:
        r = client.post(f"/v1/surveys/{s['id']}/responses", json={"answers": answers}, headers=auth("customer"))
        assert r.status_code == 422, (answers, r.text)
        assert any(e["loc"][:3] == ["body", "answers", question] for e in r.json()["errors"]), (answers, r.text)
    assert client.get("/v1/follow-ups", headers=auth("staff")).json()["items"] == []


def test_second_response_is_409_unless_updates_allowed(client, auth):
    s = f.published_survey(client, auth("staff"))
    me = auth("customer", sub=str(uuid.uuid4()))
    f.answer(client, me, s["id"], nps=9)
    r = client.post(f"/v1/surveys/{s['id']}/responses", json={"answers": {"nps": 3}}, headers=me)
    assert r.status_code == 409 and r.json()["code"] == "survey_already_answered"
    u = f.published_survey(client, auth("staff"), allow_update=True)
    first = f.answer(client, me, u["id"], nps=9, used=["app"])
    second = f.answer(client, me, u["id"], expect=200, nps=3)
    assert second["id"] == first["id"] and second["nps"] == 3 and second["follow_up_id"] is not None


def test_survey_outside_its_window_is_409(client, auth, clock):
    s = f.published_survey(client, auth("staff"), opens_at="2026-04-01T00:00:00Z")
    r = client.post(f"/v1/surveys/{s['id']}/responses", json={"answers": {"nps": 9}}, headers=auth("customer"))
    assert r.status_code == 409 and r.json()["code"] == "survey_not_open"


def test_branch_audience_refuses_a_known_customer_of_another_branch(client, auth, feedback_app):
    from services.common.consumer import FeedConsumer
    from services.feedback.consumers import profile_handlers
    from services.feedback.models import consumer_cursor

    inside, outside = str(uuid.uuid4()), str(uuid.uuid4())
    consumer = FeedConsumer(
        name="profile",
        db=feedback_app.state.db,
        cursor_table=consumer_cursor,
        handlers=profile_handlers(),
        client=None,
        feed_url="",
        token=lambda: "",
    )
    consumer.apply(
        [
            f.event("customer.registered", inside, type="individual", region_type="urban", branch_code="SH0001"),
            f.event("customer.registered", outside, type="individual", region_type="rural", branch_code="BJ0001"),
        ]
    )
    s = f.published_survey(client, auth("staff"), audience={"kind": "branch", "branch_code": "SH0001"})
    f.answer(client, auth("customer", sub=inside), s["id"], nps=8)
    r = client.post(
        f"/v1/surveys/{s['id']}/responses", json={"answers": {"nps": 9}}, headers=auth("customer", sub=outside)
    )
    assert r.status_code == 409 and r.json()["code"] == "survey_not_for_customer"


@pytest.mark.parametrize(
    "answers, reason",
    [
        ({"nps": 6}, "nps_6"),
        ({"nps": 0}, "nps_0"),
        ({"nps": 7, "csat": 2}, "csat_2"),
        ({"nps": 3, "csat": 1}, "nps_3,csat_1"),
    ],
)
def test_detractor_answer_opens_a_follow_up_for_the_branch(client, auth, feedback_app, answers, reason):
    from services.common.consumer import FeedConsumer
    from services.feedback.consumers import profile_handlers
    from services.feedback.models import consumer_cursor

    cid = str(uuid.uuid4())
    FeedConsumer(
        name="profile",
        db=feedback_app.state.db,
        cursor_table=consumer_cursor,
        handlers=profile_handlers(),
        client=None,
        feed_url="",
        token=lambda: "",
    ).apply([f.event("customer.registered", cid, type="individual", region_type="urban", branch_code="GZ0001")])
    s = f.published_survey(client, auth("staff"))
    r = f.answer(client, auth("customer", sub=cid), s["id"], **answers)
    tasks = client.get(
        "/v1/follow-ups", params={"branch_code": "GZ0001", "status": "open"}, headers=auth("staff")
    ).json()
    [task] = tasks["items"]
    assert task["id"] == r["follow_up_id"] and task["reason"] == reason and task["customer_id"] == cid
    assert task["due_at"] == "2026-03-04T02:00:00Z"


@pytest.mark.parametrize("answers", [{"nps": 7}, {"nps": 10, "csat": 3}])
def test_non_detractor_answer_opens_no_follow_up(client, auth, answers):
    s = f.published_survey(client, auth("staff"))
    assert f.answer(client, auth("customer"), s["id"], **answers)["follow_up_id"] is None
    assert client.get("/v1/follow-ups", headers=auth("staff")).json()["items"] == []


def test_follow_up_outcome_is_recorded_once(client, auth):
    s = f.published_survey(client, auth("staff"))
    r = f.answer(client, auth("customer", sub=f.known_customer(client)), s["id"], nps=2)
    url = f"/v1/follow-ups/{r['follow_up_id']}/outcome"
    done = client.post(
        url, json={"outcome": "reached_resolved", "note": "已回访"}, headers=auth("staff", sub="staff-q")
    )
    assert done.status_code == 200
    assert done.json()["status"] == "done" and done.json()["completed_by"] == "staff-q"
    again = client.post(url, json={"outcome": "unreachable"}, headers=auth("staff"))
    assert again.status_code == 409 and again.json()["code"] == "follow_up_done"
    assert client.post(url, json={"outcome": "maybe"}, headers=auth("staff")).status_code == 422
    missing = client.post(f"/v1/follow-ups/{uuid.uuid4()}/outcome", json={"outcome": "declined"}, headers=auth("staff"))
    assert missing.status_code == 404 and missing.json()["code"] == "follow_up_not_found"
    assert (
        client.get("/v1/follow-ups", params={"status": "done"}, headers=auth("staff")).json()["items"][0]["id"]
        == (r["follow_up_id"])
    )


@pytest.mark.parametrize("role", ["customer", "system"])
def test_follow_ups_as_other_roles_are_forbidden(client, auth, role):
    assert client.get("/v1/follow-ups", headers=auth(role)).status_code == 403
    assert (
        client.post(
            f"/v1/follow-ups/{uuid.uuid4()}/outcome", json={"outcome": "declined"}, headers=auth(role)
        ).status_code
        == 403
    )


def test_follow_ups_page(client, auth, clock):
    s = f.published_survey(client, auth("staff"))
    for _ in range(3):
        f.answer(client, auth("customer", sub=f.known_customer(client)), s["id"], nps=1)
        clock.advance(minutes=1)
    p1 = client.get("/v1/follow-ups", params={"limit": 2}, headers=auth("staff")).json()
    p2 = client.get("/v1/follow-ups", params={"limit": 2, "cursor": p1["next_cursor"]}, headers=auth("staff")).json()
    assert len(p1["items"]) == 2 and len(p2["items"]) == 1 and p2["next_cursor"] is None
    from tests.feedback.test_complaints_api import FORGED_CURSORS

    for forged in FORGED_CURSORS:
        assert client.get("/v1/follow-ups", params={"cursor": forged}, headers=auth("staff")).status_code == 422
