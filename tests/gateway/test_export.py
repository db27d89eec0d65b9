"""GET /api/v1/customers/{id}/personal-data-export against stand-in services over real HTTP: every part
with its manifest entry, each service away, slow or refusing (named in `missing`, never silently
left out), profile away (503), the HTML document, who may ask, and the outcome metric."""

import uuid

import pytest

from tests.gateway.conftest import RawUpstream, sample, samples
from tests.gateway.standins import EXPORTED_NAME, PRODUCED_AT

CUSTOMER = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
PATH = f"/api/v1/customers/{CUSTOMER}/personal-data-export"
ROUTE = "/api/v1/customers/{customer_id}/personal-data-export"
SERVICES = ("profile", "loyalty", "feedback", "segmentation")
OTHERS = ("loyalty", "feedback", "segmentation")


def _gaps(body: dict) -> dict[str, tuple[str, str]]:
    return {gap["part"]: (gap["service"], gap["reason"]) for gap in body["missing"]}


def test_export_all_services_up_every_part_in_manifest_complete(suite_gateway, standins, auth):
    headers = {**auth("supervisor"), "X-Request-ID": "ex-1"}
    client = suite_gateway()
    r = client.get(PATH, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert (body["customer_id"], body["complete"], body["missing"]) == (CUSTOMER, True, [])
    assert body["profile"]["customer"]["name"] == EXPORTED_NAME
    for service in OTHERS:
        assert body[service]["data"]["held_by"] == service and body[service]["customer_id"] == CUSTOMER
    assert [(m["part"], m["service"]) for m in body["manifest"]] == [(s, s) for s in SERVICES]
    assert {m["produced_at"] for m in body["manifest"]} == {PRODUCED_AT}
    seen = {s["path"] for st in standins.values() for s in st.seen}
    assert seen == {f"/v1/customers/{CUSTOMER}/export"} | {f"/v1/personal-data/{CUSTOMER}"}
    for stand_in in standins.values():  # each service applied its own rules to the caller's token
        assert all(s["authorization"] == headers["Authorization"] for s in stand_in.seen)
        assert all(s["x-request-id"] == "ex-1" for s in stand_in.seen)
    assert sample(client, "gateway_personal_data_exports_total", outcome="complete") == 1
    assert sample(client, "http_requests_total", route=ROUTE) == 1


@pytest.mark.parametrize("away", OTHERS)
def test_export_service_unreachable_part_missing_not_complete(suite_gateway, dead_url, auth, away):
    client = suite_gateway(**{f"{away}_url": dead_url})
    r = client.get(PATH, headers=auth("supervisor"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["complete"] is False
    assert _gaps(body) == {away: (away, "unavailable")}
    assert body[away] is None
    assert [m["part"] for m in body["manifest"]] == [s for s in SERVICES if s != away]
    assert sample(client, "gateway_personal_data_exports_total", outcome="partial") == 1


def test_export_profile_unreachable_503_failed(suite_gateway, dead_url, auth):
    client = suite_gateway(profile_url=dead_url)
    r = client.get(PATH, headers=auth("supervisor"))
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert (r.json()["code"], r.json()["service"]) == ("export_unavailable", "profile")
    assert sample(client, "gateway_personal_data_exports_total", outcome="failed") == 1
    assert sample(client, "gateway_personal_data_exports_total", outcome="complete") == 0


def test_export_services_not_configured_named(gateway, auth):
    body = gateway().get(PATH, headers=auth("supervisor")).json()  # only profile, the echo upstream
    assert _gaps(body) == {s: (s, "not_configured") for s in OTHERS}
    assert body["complete"] is False


def test_export_slow_service_timeout_within_budget(suite_gateway, standins, auth):
    standins["feedback"].delay = 5
    body = suite_gateway(export_budget_seconds=0.5).get(PATH, headers=auth("supervisor")).json()
    assert _gaps(body) == {"feedback": ("feedback", "timeout")}
    assert body["loyalty"] is not None and body["complete"] is False


@pytest.mark.parametrize(
    ("status", "reason"), [(503, "unavailable"), (500, "unavailable"), (403, "forbidden"), (404, "error")]
)
def test_export_service_answers_error_reason(suite_gateway, standins, auth, status, reason):
    standins["segmentation"].status = status
    body = suite_gateway().get(PATH, headers=auth("supervisor")).json()
    assert _gaps(body) == {"segmentation": ("segmentation", reason)}


def test_export_non_object_answer_missing(suite_gateway, auth):
    text = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]"
    with RawUpstream(answer=text) as loyalty:
        body = suite_gateway(loyalty_url=loyalty.url).get(PATH, headers=auth("supervisor")).json()
    assert _gaps(body) == {"loyalty": ("loyalty", "error")}


def test_export_unknown_customer_404(suite_gateway, auth):
    r = suite_gateway().get(
        "/api/v1/customers/00000000-0000-0000-0000-000000000404/personal-data-export", headers=auth("supervisor")
    )
    assert (r.status_code, r.json()["code"]) == (404, "customer_not_found")


@pytest.mark.parametrize(
    ("query", "accept"),
    [("?format=html", None), ("", "text/html,application/xhtml+xml;q=0.9"), ("?format=html", "*/*")],
)
def test_export_html_chinese_labels_every_value_escaped(suite_gateway, auth, query, accept):
    headers = auth("supervisor") | ({"Accept": accept} if accept else {})
    r = suite_gateway().get(PATH + query, headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "个人信息副本" in page and "积分与权益" in page and "名称（name）" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;王小明 &amp; Co" in page


def test_export_html_names_missing_part(suite_gateway, dead_url, auth):
    page = suite_gateway(loyalty_url=dead_url).get(PATH + "?format=html", headers=auth("supervisor")).text
    assert "未能取得" in page and "unavailable" in page


def test_export_format_json_wins_over_accept(suite_gateway, auth):
    r = suite_gateway().get(PATH + "?format=json", headers=auth("supervisor") | {"Accept": "text/html"})
    assert r.headers["content-type"] == "application/json"


def test_export_unknown_format_422(suite_gateway, auth):
    r = suite_gateway().get(PATH + "?format=pdf", headers=auth("supervisor"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "format"]


def test_export_customer_token_own_200_other_404_no_upstream_call(suite_gateway, standins, auth):
    client = suite_gateway()
    assert client.get(PATH, headers=auth("customer", sub=CUSTOMER)).status_code == 200
    before = sum(len(s.seen) for s in standins.values())
    other = client.get(PATH, headers=auth("customer", sub=str(uuid.uuid4())))
    assert (other.status_code, other.json()["code"]) == (404, "customer_not_found")
    assert sum(len(s.seen) for s in standins.values()) == before


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_export_supervisor_and_admin_200(suite_gateway, auth, role):
    assert suite_gateway().get(PATH, headers=auth(role)).status_code == 200


@pytest.mark.parametrize("role", ["staff", "system"])
def test_export_other_roles_403_no_upstream_call(suite_gateway, standins, auth, role):
    r = suite_gateway().get(PATH, headers=auth(role))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    assert not any(s.seen for s in standins.values())


def test_export_without_token_401(suite_gateway, standins):
    r = suite_gateway().get(PATH)
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")
    assert not any(s.seen for s in standins.values())


def test_export_bad_customer_id_422_names_field(suite_gateway, auth):
    r = suite_gateway().get("/api/v1/customers/not-a-uuid/personal-data-export", headers=auth("supervisor"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["path", "customer_id"]


def test_export_rate_limited_429(suite_gateway, auth):
    client = suite_gateway(rate_limit_reads="1/day")
    headers = auth("supervisor")
    assert client.get(PATH, headers=headers).status_code == 200
    r = client.get(PATH, headers=headers)
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")


def test_export_metric_series_start_at_zero(suite_gateway):
    found = samples(suite_gateway(), "gateway_personal_data_exports_total")
    assert sorted(found, key=str) == [({"outcome": o}, 0.0) for o in ("complete", "failed", "partial")]
