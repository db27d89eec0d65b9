"""Survey analysis on fixed data, on both databases: exact NPS/CSAT/CES with sample sizes and the
small-sample flag, response rate, distributions, breakdowns (branch, region type, customer type,
segment class, channel, month), drivers and Chinese free-text terms."""

import uuid

import pytest

from services.common.consumer import FeedConsumer
from services.feedback.consumers import profile_handlers, segmentation_handlers
from services.feedback.models import consumer_cursor
from tests.feedback import factories as f

NPS = [10, 9, 9, 9, 8, 7, 6, 2, 10, 10]
CSAT = [5, 4, 4, 3, 2, 5, 1, 4, None, None]  # 5 of 8 are 4 or 5 -> 62.5
CES = [2, 3, 3, 5, 7, 1, 1, None, None, None]  # 22 / 7 -> 3.14
WAIT = ["<10min", "<10min", "<10min", None, None, None, ">30min", ">30min", None, None]
COMMENTS = ["排队时间太长了", "柜台排队时间太长", "服务态度很好"] + [None] * 7


def _apply(app, name, handlers, events):
    FeedConsumer(
        name=name,
        db=app.state.db,
        cursor_table=consumer_cursor,
        handlers=handlers,
        client=None,
        feed_url="",
        token=lambda: "",
    ).apply(events)


@pytest.fixture
def fixed(client, auth, feedback_app, clock):
    """Ten customers (six individuals in BJ0001, urban; four enterprises in SH0001, rural; the first
    three in asset class gold), each answering once: five in March, five in April, the last two by phone."""
    ids = [str(uuid.uuid4()) for _ in range(10)]
    _apply(
        feedback_app,
        "profile",
        profile_handlers(),
        [
            f.event(
                "customer.registered",
                cid,
                type="individual" if i < 6 else "enterprise",
                region_type="urban" if i < 6 else "rural",
                branch_code="BJ0001" if i < 6 else "SH0001",
                status="active",
            )
            for i, cid in enumerate(ids)
        ],
    )
    _apply(
        feedback_app,
        "segmentation",
        segmentation_handlers(),
        [f.event("segment.changed", cid, scheme="asset_size", from_class=None, to_class="gold") for cid in ids[:3]],
    )
    s = f.published_survey(client, auth("staff"))
    for i, cid in enumerate(ids):
        if i == 5:
            clock.advance(days=31)
        answers = {"nps": NPS[i], "csat": CSAT[i], "ces": CES[i], "wait": WAIT[i], "comment": COMMENTS[i]}
        body = {"customer_id": cid, "answers": {k: v for k, v in answers.items() if v is not None}}
        if i >= 8:
            body["channel"] = "phone"
        r = client.post(f"/v1/surveys/{s['id']}/responses", json=body, headers=auth("staff"))
        assert r.status_code == 201, r.text
    return s["id"]


def _get(client, auth, path, **params):
    r = client.get(path, params=params, headers=auth("supervisor"))
    assert r.status_code == 200, r.text
    return r.json()


def test_scores_are_exact_with_sample_sizes_and_small_sample_flag(client, auth, fixed):
    a = _get(client, auth, f"/v1/surveys/{fixed}/analysis")
    assert a["responses"] == 10 and a["audience_size"] == 10 and a["response_rate"] == 1.0
    assert a["nps"] == {"value": 40.0, "n": 10, "small_sample": True}
    assert a["csat"] == {"value": 62.5, "n": 8, "small_sample": True}
    assert a["ces"] == {"value": 3.14, "n": 7, "small_sample": True}


@pytest.mark.parametrize("settings_overrides", [{"small_sample_threshold": 8}])
def test_small_sample_threshold_is_a_setting(client, auth, fixed, settings_overrides):
    a = _get(client, auth, f"/v1/surveys/{fixed}/analysis")
    assert (a["nps"]["small_sample"], a["csat"]["small_sample"], a["ces"]["small_sample"]) == (False, False, True)


def test_period_filters_responses(client, auth, fixed):
    march = _get(
        client, auth, f"/v1/surveys/{fixed}/analysis", **{"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
    )
    assert march["responses"] == 5 and march["nps"]["value"] == 80.0 and march["response_rate"] == 0.5
    bad = client.get(
        f"/v1/surveys/{fixed}/analysis",
        params={"from": "2026-04-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        headers=auth("staff"),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "to"]


def test_distributions_per_question(client, auth, fixed):
    d = {q["question_id"]: q for q in _get(client, auth, f"/v1/surveys/{fixed}/analysis")["distributions"]}
    assert d["csat"]["n"] == 8
    assert [(i["answer"], i["count"]) for i in d["csat"]["items"]] == [("1", 1), ("2", 1), ("3", 1), ("4", 3), ("5", 2)]
    assert [(i["answer"], i["count"]) for i in d["wait"]["items"]] == [("<10min", 3), (">30min", 2)]
    assert d["comment"]["n"] == 3 and d["comment"]["items"] == [] and d["used"]["n"] == 0


@pytest.mark.parametrize(
    "by, expected",
    [
        ("branch", {"BJ0001": (6, 66.7), "SH0001": (4, 0.0)}),
        ("region_type", {"urban": (6, 66.7), "rural": (4, 0.0)}),
        ("customer_type", {"individual": (6, 66.7), "enterprise": (4, 0.0)}),
        ("channel", {"app": (8, 25.0), "phone": (2, 100.0)}),
        ("month", {"2026-03": (5, 80.0), "2026-04": (5, 0.0)}),
    ],
)
def test_breakdowns_are_exact(client, auth, fixed, by, expected):
    b = _get(client, auth, f"/v1/surveys/{fixed}/analysis/breakdown", by=by)
    assert {r["group"]: (r["nps"]["n"], r["nps"]["value"]) for r in b["rows"]} == expected


def test_breakdown_by_segment_class(client, auth, fixed):
    b = _get(client, auth, f"/v1/surveys/{fixed}/analysis/breakdown", by="segment_class", scheme="asset_size")
    assert [(r["group"], r["nps"]["n"], r["nps"]["value"]) for r in b["rows"]] == [("gold", 3, 100.0), (None, 7, 14.3)]
    r = client.get(f"/v1/surveys/{fixed}/analysis/breakdown", params={"by": "segment_class"}, headers=auth("staff"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "scheme"]
    assert (
        client.get(
            f"/v1/surveys/{fixed}/analysis/breakdown", params={"by": "weather"}, headers=auth("staff")
        ).status_code
        == 422
    )


def test_breakdown_all_matches_each_dimension(client, auth, fixed):
    b = _get(client, auth, f"/v1/surveys/{fixed}/analysis/breakdown", by="all", scheme="asset_size")
    got = {(r["dimension"], r["group"]): (r["responses"], r["nps"]["value"], r["csat"]["n"]) for r in b["rows"]}
    expected = {}
    for by in ("branch", "region_type", "customer_type", "channel", "month", "segment_class"):
        one = _get(client, auth, f"/v1/surveys/{fixed}/analysis/breakdown", by=by, scheme="asset_size")
        expected.update({(by, r["group"]): (r["responses"], r["nps"]["value"], r["csat"]["n"]) for r in one["rows"]})
    assert got == expected and len(got) == 12
    without = _get(client, auth, f"/v1/surveys/{fixed}/analysis/breakdown", by="all")
    assert {r["dimension"] for r in without["rows"]} == {"branch", "region_type", "customer_type", "channel", "month"}


def test_drivers_show_mean_nps_per_answer(client, auth, fixed):
    rows = _get(client, auth, f"/v1/surveys/{fixed}/analysis/drivers")["rows"]
    wait = {r["answer"]: (r["n"], r["mean_nps"], r["detractor_share"]) for r in rows if r["question_id"] == "wait"}
    assert wait == {">30min": (2, 4.0, 1.0), "<10min": (3, 9.33, 0.0)}
    csat = {r["answer"]: r["mean_nps"] for r in rows if r["question_id"] == "csat"}
    assert csat["1"] == 6.0 and csat["4"] == 6.67  # NPS 9, 9 and 2


def test_free_text_terms_are_segmented_chinese(client, auth, fixed):
    t = _get(client, auth, f"/v1/surveys/{fixed}/analysis/terms", limit=5)
    assert t["documents"] == 3
    top = {x["term"]: x["count"] for x in t["terms"]}
    assert top["排队"] == 2 and top["时间"] == 2
    assert "排队时间太长了" not in top and "了" not in top


def test_terms_are_counted_outside_the_serving_process(client, auth, fixed):
    """jieba's dictionary (about 80 MB) never stays in the service: the counting runs in a child."""
    import sys

    _get(client, auth, f"/v1/surveys/{fixed}/analysis/terms", limit=5)
    assert "jieba" not in sys.modules


def test_terms_that_cannot_be_counted_are_503_with_retry_after(client, auth, fixed, monkeypatch):
    from services.feedback.service import terms

    monkeypatch.setattr(terms.sys, "executable", "/bin/false")  # the child cannot start its work
    r = client.get(f"/v1/surveys/{fixed}/analysis/terms", headers=auth("staff"))
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "terms_unavailable" and r.headers["retry-after"] == "5"
    assert r.headers["content-type"].startswith("application/problem+json")


def test_response_rate_counts_only_active_audience(client, auth, fixed, feedback_app):
    more = [str(uuid.uuid4()) for _ in range(10)]
    _apply(
        feedback_app,
        "profile",
        profile_handlers(),
        [f.event("customer.registered", c, type="individual", region_type="urban", branch_code="BJ0001") for c in more]
        + [f.event("customer.closed", more[0], reason="x")],
    )
    a = _get(client, auth, f"/v1/surveys/{fixed}/analysis")
    assert a["audience_size"] == 19 and a["response_rate"] == round(10 / 19, 4)


def test_empty_survey_has_no_scores(client, auth):
    s = f.published_survey(client, auth("staff"))
    a = _get(client, auth, f"/v1/surveys/{s['id']}/analysis")
    assert a["responses"] == 0 and a["nps"] == {"value": None, "n": 0, "small_sample": True}
    assert a["response_rate"] is None


@pytest.mark.parametrize("path", ["analysis", "analysis/breakdown?by=branch", "analysis/drivers", "analysis/terms"])
def test_analysis_of_unknown_survey_is_404(client, auth, path):
    r = client.get(f"/v1/surveys/{uuid.uuid4()}/{path}", headers=auth("staff"))
    assert r.status_code == 404 and r.json()["code"] == "survey_not_found"


@pytest.mark.parametrize("path", ["analysis", "analysis/breakdown?by=branch", "analysis/drivers", "analysis/terms"])
def test_analysis_as_other_roles_is_forbidden(client, auth, path):
    for role in ("customer", "system"):
        assert client.get(f"/v1/surveys/{uuid.uuid4()}/{path}", headers=auth(role)).status_code == 403
    assert client.get(f"/v1/surveys/{uuid.uuid4()}/{path}").status_code == 401
