"""Branch scope in feedback: staff and supervisors see and act only on the complaints filed at, and
the follow-ups of, their branch's subtree (404 for one outside it, lists and report totals filtered),
and record survey responses only for their subtree's customers; a customer sees only the surveys
offered to it. On both databases."""

import uuid

from tests.feedback import factories as f
from tests.organisation import place_customer

INSIDE, OUTSIDE = "BJ0001", "OT0001"  # below BR0001 (the default staff token's branch), and not


def test_complaints_out_of_branch_are_404_and_left_out_of_lists(client, auth):
    mine = f.file(client, auth("staff"), f.complaint(branch_code=INSIDE))
    theirs = f.file(client, auth("admin"), f.complaint(branch_code=OUTSIDE))
    staff = auth("staff")
    resp = client.get(f"/v1/complaints/{theirs['id']}", headers=staff)
    assert (resp.status_code, resp.json()["code"]) == (404, "complaint_not_found")
    stepped = client.post(f"/v1/complaints/{theirs['id']}/steps", json={"action": "acknowledge"}, headers=staff)
    assert (stepped.status_code, stepped.json()["code"]) == (404, "complaint_not_found")
    assert client.get(f"/v1/complaints/{mine['id']}", headers=staff).status_code == 200
    listed = {c["id"] for c in client.get("/v1/complaints", params={"limit": 200}, headers=staff).json()["items"]}
    assert mine["id"] in listed and theirs["id"] not in listed
    by_admin = {
        c["id"] for c in client.get("/v1/complaints", params={"limit": 200}, headers=auth("admin")).json()["items"]
    }
    assert {mine["id"], theirs["id"]} <= by_admin
    other_side = auth("staff", branch="CT0002")
    assert client.get(f"/v1/complaints/{theirs['id']}", headers=other_side).status_code == 200


def test_staff_file_complaints_only_within_their_subtree(client, auth):
    resp = client.post("/v1/complaints", json=f.complaint(branch_code=OUTSIDE), headers=auth("staff"))
    assert resp.status_code == 422
    assert [(e["loc"], e["type"]) for e in resp.json()["errors"]] == [(["body", "branch_code"], "out_of_reach")]


def test_the_complaint_report_counts_only_the_subtree(client, auth):
    for code in (INSIDE, INSIDE, OUTSIDE):
        f.file(client, auth("admin"), f.complaint(branch_code=code))
    scoped = client.get("/v1/complaints/reports", headers=auth("supervisor")).json()
    everything = client.get("/v1/complaints/reports", headers=auth("admin")).json()
    assert scoped["received"] == 2 and everything["received"] == 3
    assert {b["branch_code"] for b in scoped["top_causes_by_branch"]} == {INSIDE}
    assert sum(b["count"] for b in scoped["open_by_age"]) == 2
    elsewhere = client.get("/v1/complaints/reports", headers=auth("supervisor", branch="CT0002")).json()
    assert elsewhere["received"] == 1


def test_a_customers_complaints_name_its_branch_through_the_feed_copy(client, auth):
    customer = str(uuid.uuid4())
    place_customer("feedback", client.app.state.db, customer, OUTSIDE)
    resp = client.get("/v1/complaints", params={"customer_id": customer}, headers=auth("staff"))
    assert (resp.status_code, resp.json()["code"]) == (404, "customer_not_found")
    inside = client.get("/v1/complaints", params={"customer_id": customer}, headers=auth("staff", branch="CT0002"))
    assert inside.status_code == 200


def test_follow_ups_are_scoped_to_the_branch(client, auth):
    inside, outside = str(uuid.uuid4()), str(uuid.uuid4())
    place_customer("feedback", client.app.state.db, inside, INSIDE)
    place_customer("feedback", client.app.state.db, outside, OUTSIDE)
    survey = f.published_survey(client, auth("admin"))
    for customer in (inside, outside):
        f.answer(client, auth("customer", sub=customer), survey["id"], nps=2)
    tasks = client.get("/v1/follow-ups", headers=auth("admin")).json()["items"]
    by_customer = {t["customer_id"]: t["id"] for t in tasks}
    seen = {t["customer_id"] for t in client.get("/v1/follow-ups", headers=auth("staff")).json()["items"]}
    assert inside in seen and outside not in seen
    body = {"outcome": "reached_resolved", "note": "已回访"}
    refused = client.post(f"/v1/follow-ups/{by_customer[outside]}/outcome", json=body, headers=auth("staff"))
    assert (refused.status_code, refused.json()["code"]) == (404, "follow_up_not_found")
    done = client.post(f"/v1/follow-ups/{by_customer[inside]}/outcome", json=body, headers=auth("staff"))
    assert done.status_code == 200, done.text


def test_survey_analysis_counts_only_the_subtrees_respondents(client, auth):
    survey = f.published_survey(client, auth("admin"))
    for branch, score in ((INSIDE, 10), (OUTSIDE, 0)):
        customer = str(uuid.uuid4())
        place_customer("feedback", client.app.state.db, customer, branch)
        f.answer(client, auth("customer", sub=customer), survey["id"], nps=score)
    scoped = client.get(f"/v1/surveys/{survey['id']}/analysis", headers=auth("staff")).json()
    everything = client.get(f"/v1/surveys/{survey['id']}/analysis", headers=auth("admin")).json()
    assert scoped["responses"] == 1 and everything["responses"] == 2
    assert (scoped["nps"]["value"], scoped["nps"]["n"]) == (100, 1)
    assert scoped["audience_size"] < everything["audience_size"]


def test_a_customer_sees_only_the_surveys_offered_to_it(client, auth, clock):
    customer = str(uuid.uuid4())
    place_customer("feedback", client.app.state.db, customer, INSIDE)
    admin = auth("admin")
    for_all = f.published_survey(client, admin)
    for_mine = f.published_survey(client, admin, audience={"kind": "branch", "branch_code": INSIDE})
    for_theirs = f.published_survey(client, admin, audience={"kind": "branch", "branch_code": OUTSIDE})
    closed = f.published_survey(client, admin, closes_at="2026-01-02T00:00:00Z")
    draft = client.post("/v1/surveys", json=f.survey(), headers=admin).json()
    me = auth("customer", sub=customer)
    listed = {s["id"] for s in client.get("/v1/surveys", params={"limit": 200}, headers=me).json()["items"]}
    assert {for_all["id"], for_mine["id"]} <= listed
    assert not listed & {for_theirs["id"], closed["id"], draft["id"]}
    for hidden in (for_theirs, closed, draft):
        resp = client.get(f"/v1/surveys/{hidden['id']}", headers=me)
        assert (resp.status_code, resp.json()["code"]) == (404, "survey_not_found")
    assert client.get(f"/v1/surveys/{for_mine['id']}", headers=me).status_code == 200
    stranger = auth("customer", sub=str(uuid.uuid4()))  # not yet on profile's feed: the surveys for everyone
    seen = {s["id"] for s in client.get("/v1/surveys", params={"limit": 200}, headers=stranger).json()["items"]}
    assert for_all["id"] in seen and for_mine["id"] not in seen
    staff = {s["id"] for s in client.get("/v1/surveys", params={"limit": 200}, headers=auth("staff")).json()["items"]}
    assert {for_theirs["id"], closed["id"], draft["id"]} <= staff


def test_staff_record_responses_only_for_their_subtrees_customers(client, auth):
    inside, outside, unknown = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    place_customer("feedback", client.app.state.db, inside, INSIDE)
    place_customer("feedback", client.app.state.db, outside, OUTSIDE)
    survey = f.published_survey(client, auth("admin"))
    for who in (auth("staff"), auth("supervisor")):
        refused = f.answer(client, who, survey["id"], expect=404, customer_id=outside, nps=9)
        assert refused["code"] == "customer_not_found"
    assert f.answer(client, auth("staff"), survey["id"], expect=404, customer_id=unknown, nps=9)["code"] == (
        "customer_not_found"
    )  # not yet on profile's feed: out of every staff member's reach
    assert f.answer(client, auth("staff"), survey["id"], customer_id=inside, nps=9)["customer_id"] == inside
    assert f.answer(client, auth("staff", branch="CT0002"), survey["id"], customer_id=outside, nps=9)["nps"] == 9
    assert f.answer(client, auth("admin"), survey["id"], customer_id=unknown, nps=9)["customer_id"] == unknown
    answered = client.get("/v1/surveys/responses", params={"customer_id": outside}, headers=auth("admin")).json()
    assert len(answered["items"]) == 1  # the refused answers left nothing behind
