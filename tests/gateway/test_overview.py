"""GET /api/v1/customers/{id}/overview against stand-in services over real HTTP: everything up, each
service away, slow, failing or refusing, and who may see which customer."""

import uuid

import pytest

from tests.gateway.conftest import RawUpstream, sample
from tests.gateway.standins import ACCOUNT, EXPIRING, MEMBERSHIPS, RISK, SURVEY

CUSTOMER = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
PATH = f"/api/v1/customers/{CUSTOMER}/overview"
MISSING_CUSTOMER = "00000000-0000-0000-0000-000000000404"
PARTS_OF = {
    "profile": {"profile", "risk_assessment"},
    "segmentation": {"segments"},
    "loyalty": {"points", "points_expiring"},
    "feedback": {"open_complaints", "latest_satisfaction"},
}


def _gaps(body: dict) -> dict[str, tuple[str, str]]:
    return {gap["part"]: (gap["service"], gap["reason"]) for gap in body["partial"]}


def test_overview_all_services_up_every_part_no_partial(suite_gateway, standins, auth):
    headers = {**auth("staff"), "X-Request-ID": "ov-1"}
    r = suite_gateway().get(PATH, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["partial"] == []
    assert body["customer_id"] == CUSTOMER
    assert body["profile"]["phone"] == "138****5678" and body["profile"]["id"] == CUSTOMER
    assert body["risk_assessment"]["level"] == RISK["level"]
    assert [(m["scheme"], m["class"]) for m in body["segments"]] == [
        ("asset_size", "mid_high"),
        ("region", "urban"),
        ("rule:s-1", "member"),
    ]
    assert body["segments"][2]["name"] == MEMBERSHIPS["segments"][0]["name"]
    assert body["points"]["balance"] == ACCOUNT["balance"]
    assert body["points_expiring"]["points"] == EXPIRING["points"]
    # Only complaints still being handled; the closed one is left out.
    assert [c["id"] for c in body["open_complaints"]] == ["c-1"]
    assert body["latest_satisfaction"]["nps"] == SURVEY["nps"]
    # Each service saw the caller's token and request id, and the documented query.
    for stand_in in standins.values():
        assert stand_in.seen and all(s["authorization"] == headers["Authorization"] for s in stand_in.seen)
        assert all(s["x-request-id"] == "ov-1" for s in stand_in.seen)
    queries = {s["path"]: s["query"] for st in standins.values() for s in st.seen}
    assert queries["/v1/memberships"] == f"customer_id={CUSTOMER}"
    assert queries[f"/v1/loyalty/accounts/{CUSTOMER}/expiring"] == "within=30d"
    assert queries["/v1/complaints"] == f"customer_id={CUSTOMER}&limit=50"
    assert queries["/v1/surveys/responses"] == f"customer_id={CUSTOMER}&limit=1"


@pytest.mark.parametrize("away", ["profile", "segmentation", "loyalty", "feedback"])
def test_overview_service_unreachable_rest_returned_partial_names_it(suite_gateway, dead_url, auth, away):
    r = suite_gateway(**{f"{away}_url": dead_url}).get(PATH, headers=auth("staff"))
    assert r.status_code == 200
    body = r.json()
    assert _gaps(body) == {part: (away, "unavailable") for part in PARTS_OF[away]}
    for service, parts in PARTS_OF.items():
        for part in parts:
            assert (body[part] is None) == (service == away), part


def test_overview_services_not_configured_named(gateway, upstream, auth):
    # Only profile (the echo upstream) is configured.
    body = gateway().get(PATH, headers=auth("staff")).json()
    gaps = _gaps(body)
    assert {part for part, (_, reason) in gaps.items() if reason == "not_configured"} == (
        PARTS_OF["segmentation"] | PARTS_OF["loyalty"] | PARTS_OF["feedback"]
    )
    assert body["profile"] is not None


def test_overview_slow_service_timeout_within_budget(suite_gateway, standins, auth):
    standins["loyalty"].delay = 5
    body = suite_gateway(overview_budget_seconds=0.5).get(PATH, headers=auth("staff")).json()
    assert _gaps(body) == {"points": ("loyalty", "timeout"), "points_expiring": ("loyalty", "timeout")}
    assert body["profile"] is not None and body["segments"] is not None


@pytest.mark.parametrize(
    ("status", "reason"),
    [(503, "unavailable"), (500, "unavailable"), (403, "forbidden"), (401, "forbidden"), (400, "error")],
)
def test_overview_service_answers_error_reason(suite_gateway, standins, auth, status, reason):
    standins["feedback"].status = status
    body = suite_gateway().get(PATH, headers=auth("staff")).json()
    assert _gaps(body) == {"open_complaints": ("feedback", reason), "latest_satisfaction": ("feedback", reason)}


def test_overview_nothing_of_a_kind_404_is_null_not_partial(suite_gateway, standins, auth):
    standins["loyalty"].status = 404
    body = suite_gateway().get(PATH, headers=auth("staff")).json()
    assert body["points"] is None and body["points_expiring"] is None
    assert body["partial"] == []


def test_overview_unknown_customer_404(suite_gateway, auth):
    r = suite_gateway().get(f"/api/v1/customers/{MISSING_CUSTOMER}/overview", headers=auth("staff"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "customer_not_found"


def test_overview_customer_token_own_200_other_404_no_upstream_call(suite_gateway, standins, auth):
    client = suite_gateway()
    assert client.get(PATH, headers=auth("customer", sub=CUSTOMER)).status_code == 200
    before = sum(len(s.seen) for s in standins.values())
    other = client.get(PATH, headers=auth("customer", sub=str(uuid.uuid4())))
    assert (other.status_code, other.json()["code"]) == (404, "customer_not_found")
    assert sum(len(s.seen) for s in standins.values()) == before


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor", "admin", "system"])
def test_overview_each_role_200(suite_gateway, auth, role):
    sub = CUSTOMER if role == "customer" else None
    assert suite_gateway().get(PATH, headers=auth(role, sub=sub)).status_code == 200


def test_overview_without_token_401(suite_gateway, standins):
    r = suite_gateway().get(PATH)
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")
    assert not any(s.seen for s in standins.values())


def test_overview_bad_customer_id_422_names_field(suite_gateway, auth):
    r = suite_gateway().get("/api/v1/customers/not-a-uuid/overview", headers=auth("staff"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["path", "customer_id"]


def test_overview_rate_limited_429(suite_gateway, auth):
    client = suite_gateway(rate_limit_reads="1/day")
    headers = auth("staff")
    assert client.get(PATH, headers=headers).status_code == 200
    r = client.get(PATH, headers=headers)
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1


def test_overview_circuit_open_named_and_counted(suite_gateway, standins, auth):
    standins["segmentation"].status = 503
    client = suite_gateway(breaker_failure_threshold=1, breaker_reset_seconds=60)
    client.get(PATH, headers=auth("staff"))  # opens segmentation's circuit
    calls = len(standins["segmentation"].seen)
    body = client.get(PATH, headers=auth("staff")).json()
    assert _gaps(body) == {"segments": ("segmentation", "circuit_open")}
    assert len(standins["segmentation"].seen) == calls
    assert sample(client, "gateway_overview_partial_total", part="segments", reason="circuit_open") == 1
    assert sample(client, "gateway_overview_partial_total", part="segments", reason="unavailable") == 1
    assert sample(client, "http_requests_total", route="/api/v1/customers/{customer_id}/overview") == 2


def test_overview_non_json_answer_error(suite_gateway, auth):
    text = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"
    with RawUpstream(answer=text) as loyalty:
        body = suite_gateway(loyalty_url=loyalty.url).get(PATH, headers=auth("staff")).json()
    assert _gaps(body) == {"points": ("loyalty", "error"), "points_expiring": ("loyalty", "error")}
