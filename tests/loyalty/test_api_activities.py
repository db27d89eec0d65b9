"""Activity bonuses: configured by a supervisor, awarded at most once per instance (or once ever),
through the API or from the feeds (survey responses, mobile activity, event attendance)."""

import uuid

import pytest

from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY


def _activity(client, auth, **overrides) -> dict:
    body = {"code": f"a-{uuid.uuid4().hex[:6]}", "name": "Bonus", "points": 20, "trigger": "manual"}
    body.update(overrides)
    resp = client.post("/v1/loyalty/activities", json=body, headers=auth("supervisor"))
    assert resp.status_code == 201, resp.text
    return resp.json()


def _award(client, headers, cid, code, instance="i-1"):
    return client.post(
        "/v1/loyalty/activity-awards",
        headers=headers,
        json={"customer_id": cid, "activity_code": code, "instance": instance},
    )


def test_configure_and_list_activities(client, auth):
    made = _activity(client, auth, code="first-login", trigger="mobile_first_login")
    assert (made["is_repeatable"], made["is_retired"]) == (False, False)
    listed = client.get("/v1/loyalty/activities", headers=auth("staff")).json()["items"]
    assert [a["code"] for a in listed] == ["first-login"]
    again = client.post(
        "/v1/loyalty/activities",
        headers=auth("supervisor"),
        json={"code": "first-login", "name": "x", "points": 1, "trigger": "manual"},
    )
    assert again.status_code == 409 and again.json()["code"] == "activity_code_taken"
    assert client.get("/v1/loyalty/activities", headers=auth("customer")).status_code == 403


@SQLITE_ONLY
@pytest.mark.parametrize(
    "change, field",
    [
        ({"points": 0}, "points"),
        ({"trigger": "dance"}, "trigger"),
        ({"code": "UPPER"}, "code"),
        ({"is_repeatable": "maybe"}, "is_repeatable"),
    ],
)
def test_configure_activity_bad_input_is_422(client, auth, change, field):
    body = {"code": "ok-1", "name": "Bonus", "points": 5, "trigger": "manual", **change}
    resp = client.post("/v1/loyalty/activities", json=body, headers=auth("supervisor"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


@SQLITE_ONLY
def test_configure_activity_as_staff_is_403(client, auth):
    resp = client.post(
        "/v1/loyalty/activities",
        headers=auth("staff"),
        json={"code": "ok-1", "name": "Bonus", "points": 5, "trigger": "manual"},
    )
    assert resp.status_code == 403


def test_one_off_activity_is_awarded_once_ever(client, auth):
    cid = f.enrol(client, auth)
    act = _activity(client, auth)
    resp = _award(client, auth("staff"), cid, act["code"], "login-1")
    assert resp.status_code == 201 and (resp.json()["source"], resp.json()["points"]) == ("activity", 20)
    again = _award(client, auth("system"), cid, act["code"], "login-2")
    assert again.status_code == 409 and again.json()["code"] == "activity_already_awarded"
    assert f.balance(client, auth, cid) == 20


def test_repeatable_activity_is_awarded_once_per_instance(client, auth):
    cid = f.enrol(client, auth)
    act = _activity(client, auth, is_repeatable=True)
    assert _award(client, auth("staff"), cid, act["code"], "survey-1").status_code == 201
    assert _award(client, auth("staff"), cid, act["code"], "survey-2").status_code == 201
    assert _award(client, auth("staff"), cid, act["code"], "survey-1").status_code == 409
    assert f.balance(client, auth, cid) == 40


def test_award_with_idempotency_key_replays(client, auth):
    cid = f.enrol(client, auth)
    act = _activity(client, auth)
    headers = {**auth("staff", sub="clerk"), "Idempotency-Key": "award-1"}
    first, again = _award(client, headers, cid, act["code"]), _award(client, headers, cid, act["code"])
    assert first.status_code == again.status_code == 201 and first.json() == again.json()


def test_award_errors(client, auth):
    cid = f.enrol(client, auth)
    resp = _award(client, auth("staff"), cid, "no-such")
    assert resp.status_code == 404 and resp.json()["code"] == "activity_not_found"
    act = _activity(client, auth)
    assert _award(client, auth("staff"), str(uuid.uuid4()), act["code"]).status_code == 404
    assert _award(client, auth("customer", sub=cid), cid, act["code"]).status_code == 403
    resp = _award(client, auth("staff"), cid, act["code"], "has space")
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "instance"]
    assert _award(client, {}, cid, act["code"]).status_code == 401


def test_feeds_award_survey_and_first_mobile_activity_bonuses(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    _activity(client, auth, code="survey", trigger="survey_responded", is_repeatable=True, points=30)
    _activity(client, auth, code="first-mobile", trigger="mobile_first_login", points=100)
    feedback = f.consumer(loyalty_app, "feedback")
    feedback.apply(
        [f.event("survey.responded", cid, {"survey_id": "s", "response_id": r, "nps": 9}) for r in ("r1", "r2", "r1")]
    )
    profile = f.consumer(loyalty_app)
    profile.apply(
        [f.txn(cid, 100, channel="mobile", initiated=True), f.txn(cid, 100, channel="mobile", initiated=True)]
    )
    entries = client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"]
    assert sorted(e["source_ref"] for e in entries) == ["first-mobile:first", "survey:r1", "survey:r2"]
    assert f.balance(client, auth, cid) == 160
