"""Risk assessment: questionnaires by customer type, scoring and bands, 12-month validity with an
injected clock, history, suitability for every C/R pair, the risk_assessment.completed event."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.profile.service.questionnaires import INDIVIDUAL, ORGANISATION, level_for
from services.profile.service.risk import add_months, is_suitable
from tests.profile import factories as f

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LEVEL_SCORES = {"C1": 14, "C2": 22, "C3": 30, "C4": 38, "C5": 46}


def answers_scoring(questionnaire: dict, target: int) -> dict[str, str]:
    """Answers whose scores add up to exactly `target`."""
    remaining = target - sum(min(o["score"] for o in q["options"]) for q in questionnaire["questions"])
    out = {}
    for q in questionnaire["questions"]:
        low = min(o["score"] for o in q["options"])
        option = max((o for o in q["options"] if o["score"] - low <= remaining), key=lambda o: o["score"])
        remaining -= option["score"] - low
        out[q["id"]] = option["id"]
    assert remaining == 0
    return out


@pytest.fixture
def clock(profile_app):
    state = {"now": NOW}
    profile_app.state.clock = lambda: state["now"]
    return state


@pytest.fixture
def customer(client, auth, clock):
    return f.register(client, auth("staff"))


def _assess(client, headers, cid, score=30, questionnaire=INDIVIDUAL, **overrides):
    body = {
        "questionnaire_id": questionnaire["id"],
        "questionnaire_version": questionnaire["version"],
        "answers": answers_scoring(questionnaire, score),
        **overrides,
    }
    return client.post(f"/v1/customers/{cid}/risk-assessments", json=body, headers=headers)


def _suitability(client, auth, cid, risk):
    resp = client.get(f"/v1/customers/{cid}/suitability", params={"product_risk": risk}, headers=auth("staff"))
    assert resp.status_code == 200
    return resp.json()


@pytest.mark.parametrize(
    "score, level",
    [(10, "C1"), (18, "C1"), (19, "C2"), (26, "C2"), (27, "C3"), (35, "C4"), (42, "C4"), (43, "C5"), (50, "C5")],
)
def test_score_bands_give_the_level(score, level):
    assert level_for(INDIVIDUAL, score) == level


@pytest.mark.parametrize("score, level", [(18, "C1"), (43, "C5")])
def test_submitted_answers_are_scored_into_a_level(client, auth, customer, score, level):
    resp = _assess(client, auth("staff"), customer["id"], score)
    assert resp.status_code == 201
    assert (resp.json()["score"], resp.json()["level"], resp.json()["status"]) == (score, level, "current")


def test_assessment_is_valid_twelve_months_and_records_event(client, auth, customer):
    a = _assess(client, auth("customer", sub=customer["id"]), customer["id"], 38).json()
    assert a["assessed_at"] == "2026-11-28T12:00:00Z" and a["expires_at"] == "2027-11-28T12:00:00Z"
    events = [
        e for e in client.get("/v1/events", headers=auth("system")).json()["items"] if e["type"].startswith("risk")
    ]
    assert [e["data"] for e in events] == [
        {
            "assessment_id": a["id"],
            "level": "C4",
            "score": 38,
            "questionnaire": {"id": "individual", "version": 1},
            "assessed_at": "2026-11-28T12:00:00Z",
            "expires_at": "2027-11-28T12:00:00Z",
        }
    ]


def test_expired_assessment_counts_as_none(client, auth, customer, clock):
    _assess(client, auth("staff"), customer["id"], 46)
    url = f"/v1/customers/{customer['id']}/risk-assessments/current"
    clock["now"] = datetime(2027, 11, 28, 11, 59, 59, tzinfo=UTC)
    assert client.get(url, headers=auth("staff")).json()["level"] == "C5"
    assert _suitability(client, auth, customer["id"], "R5")["suitable"] is True
    clock["now"] = datetime(2027, 11, 28, 12, 0, tzinfo=UTC)
    resp = client.get(url, headers=auth("staff"))
    assert resp.status_code == 404 and resp.json()["code"] == "risk_assessment_not_found"
    s = _suitability(client, auth, customer["id"], "R1")
    assert (s["suitable"], s["reason"], s["customer_level"]) == (False, "no_valid_assessment", None)
    history = client.get(f"/v1/customers/{customer['id']}/risk-assessments", headers=auth("staff")).json()["items"]
    assert [h["status"] for h in history] == ["expired"]


def test_validity_is_a_setting(client, auth, customer, profile_app):
    profile_app.state.settings = profile_app.state.settings.model_copy(update={"risk_assessment_valid_months": 6})
    assert _assess(client, auth("staff"), customer["id"]).json()["expires_at"] == "2027-05-28T12:00:00Z"


def test_newest_assessment_is_current_and_history_kept(client, auth, customer, clock):
    first = _assess(client, auth("staff"), customer["id"], 46).json()
    clock["now"] = NOW + timedelta(days=30)
    second = _assess(client, auth("staff"), customer["id"], 14).json()
    current = client.get(f"/v1/customers/{customer['id']}/risk-assessments/current", headers=auth("staff")).json()
    assert current["id"] == second["id"] and current["level"] == "C1"
    history = client.get(f"/v1/customers/{customer['id']}/risk-assessments", headers=auth("staff")).json()["items"]
    assert [(h["id"], h["status"]) for h in history] == [(second["id"], "current"), (first["id"], "superseded")]
    assert _suitability(client, auth, customer["id"], "R2")["reason"] == "level_too_low"
    page = client.get(
        f"/v1/customers/{customer['id']}/risk-assessments", params={"limit": 1}, headers=auth("staff")
    ).json()
    assert len(page["items"]) == 1 and page["next_cursor"]


SUITABLE = {  # the rule written out: a Cn customer may buy R1..Rn
    "C1": {"R1"},
    "C2": {"R1", "R2"},
    "C3": {"R1", "R2", "R3"},
    "C4": {"R1", "R2", "R3", "R4"},
    "C5": {"R1", "R2", "R3", "R4", "R5"},
}


@pytest.mark.parametrize("level", ["C1", "C2", "C3", "C4", "C5"])
@pytest.mark.parametrize("risk", ["R1", "R2", "R3", "R4", "R5"])
def test_suitability_rule_for_every_level_and_product_risk(level, risk):
    assert is_suitable(level, risk) is (risk in SUITABLE[level])


@pytest.mark.parametrize("level", ["C1", "C2", "C3", "C4", "C5"])
def test_suitability_through_the_api_for_each_level_and_every_product_risk(client, auth, customer, level):
    _assess(client, auth("staff"), customer["id"], LEVEL_SCORES[level])
    for risk in ("R1", "R2", "R3", "R4", "R5"):
        s = _suitability(client, auth, customer["id"], risk)
        expected = risk in SUITABLE[level]
        assert s["suitable"] is expected and s["customer_level"] == level
        assert s["reason"] == ("level_sufficient" if expected else "level_too_low")


def test_suitability_without_assessment_is_no(client, auth, customer):
    s = _suitability(client, auth, customer["id"], "R1")
    assert (s["suitable"], s["reason"], s["assessment_id"]) == (False, "no_valid_assessment", None)


@pytest.mark.parametrize("kind", ["enterprise", "interbank"])
def test_organisations_answer_their_own_questionnaire(client, auth, clock, kind):
    org = f.register(client, auth("staff"), f.enterprise(kind))
    q = client.get(f"/v1/customers/{org['id']}/risk-questionnaire", headers=auth("staff")).json()
    assert q["id"] == "organisation" and len(q["questions"]) == 8 and q["valid_months"] == 12
    wrong = _assess(client, auth("staff"), org["id"], 30)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["loc"] == ["body", "questionnaire_id"]
    resp = _assess(client, auth("staff"), org["id"], 34, questionnaire=ORGANISATION)
    assert resp.status_code == 201 and resp.json()["level"] == "C5"


def test_individual_questionnaire_has_about_ten_questions_and_documented_bands(client, auth, customer):
    q = client.get(f"/v1/customers/{customer['id']}/risk-questionnaire", headers=auth("customer", sub=customer["id"]))
    body = q.json()
    assert q.status_code == 200 and body["id"] == "individual" and len(body["questions"]) == 10
    assert {"age_band", "annual_income", "investable_assets", "experience_years", "horizon", "loss_tolerance"} <= {
        x["id"] for x in body["questions"]
    }
    assert [b["level"] for b in body["bands"]] == ["C1", "C2", "C3", "C4", "C5"]


def test_unanswered_unknown_and_bad_answers_are_named(client, auth, customer):
    answers = answers_scoring(INDIVIDUAL, 30)
    del answers["horizon"]
    answers["age_band"] = "teenager"
    answers["shoe_size"] = "42"
    resp = _assess(client, auth("staff"), customer["id"], answers=answers)
    assert resp.status_code == 422
    assert sorted(tuple(e["loc"]) for e in resp.json()["errors"]) == [
        ("body", "answers", "age_band"),
        ("body", "answers", "horizon"),
        ("body", "answers", "shoe_size"),
    ]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"questionnaire_version": 2}, "questionnaire_version"),
        ({"questionnaire_version": 0}, "questionnaire_version"),
        ({"questionnaire_id": "Bad Id"}, "questionnaire_id"),
        ({"answers": "all good"}, "answers"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_assessment_is_422_naming_the_field(client, auth, customer, overrides, field):
    resp = _assess(client, auth("staff"), customer["id"], **overrides)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][:2] == ["body", field]


def test_bad_product_risk_is_422(client, auth, customer):
    for params in ({"product_risk": "R6"}, {}):
        resp = client.get(f"/v1/customers/{customer['id']}/suitability", params=params, headers=auth("staff"))
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "product_risk"]


def test_closed_customer_cannot_be_assessed(client, auth, customer):
    client.post(f"/v1/customers/{customer['id']}/close", headers=auth("staff"))
    resp = _assess(client, auth("staff"), customer["id"])
    assert resp.status_code == 409 and resp.json()["code"] == "customer_closed"


@pytest.mark.parametrize(
    "path", ["risk-questionnaire", "risk-assessments", "risk-assessments/current", "suitability?product_risk=R1"]
)
def test_reads_respect_roles_and_existence(client, auth, customer, path):
    other = f.register(client, auth("staff"))
    _assess(client, auth("staff"), customer["id"])
    for role in ("staff", "supervisor", "admin", "system"):
        assert client.get(f"/v1/customers/{customer['id']}/{path}", headers=auth(role)).status_code == 200
    mine = auth("customer", sub=customer["id"])
    assert client.get(f"/v1/customers/{customer['id']}/{path}", headers=mine).status_code == 200
    assert client.get(f"/v1/customers/{other['id']}/{path}", headers=mine).status_code == 404
    assert client.get(f"/v1/customers/{uuid.uuid4()}/{path}", headers=auth("staff")).status_code == 404
    assert client.get(f"/v1/customers/{customer['id']}/{path}").status_code == 401


def test_assess_roles(client, auth, customer):
    other = f.register(client, auth("staff"))
    assert _assess(client, auth("system"), customer["id"]).status_code == 403
    assert _assess(client, auth("customer", sub=customer["id"]), other["id"]).status_code == 404
    assert _assess(client, {}, customer["id"]).status_code == 401
    assert _assess(client, auth("staff"), uuid.uuid4()).status_code == 404
    for role in ("staff", "supervisor", "admin"):
        assert _assess(client, auth(role), customer["id"]).status_code == 201


@pytest.mark.parametrize(
    "start, months, end",
    [
        (datetime(2024, 2, 29, tzinfo=UTC), 12, datetime(2025, 2, 28, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 11, 28, 9, tzinfo=UTC), 14, datetime(2028, 1, 28, 9, tzinfo=UTC)),
    ],
)
def test_add_months_keeps_the_day_or_the_months_last(start, months, end):
    assert add_months(start, months) == end
