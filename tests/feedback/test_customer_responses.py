"""A customer's responses, newest first and scores only: what the gateway's overview shows as the
latest satisfaction."""

import uuid

import pytest

from tests.feedback import factories as f
from tests.organisation import place_customer


def _two_responses(client, auth, clock, customer_id: str) -> list[dict]:
    place_customer("feedback", client.app.state.db, customer_id)  # in the staff token's branch
    first = f.answer(
        client, auth("staff"), f.published_survey(client, auth("staff"))["id"], customer_id=customer_id, nps=3
    )
    clock.advance(hours=1)
    second = f.answer(
        client, auth("staff"), f.published_survey(client, auth("staff"))["id"], customer_id=customer_id, nps=10, csat=5
    )
    return [first, second]


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_customer_responses_newest_first_for_staff_roles(client, auth, clock, role):
    cid = str(uuid.uuid4())
    first, second = _two_responses(client, auth, clock, cid)
    someone_else = f.known_customer(client)
    f.answer(client, auth("staff"), f.published_survey(client, auth("staff"))["id"], customer_id=someone_else, nps=5)
    resp = client.get("/v1/surveys/responses", params={"customer_id": cid}, headers=auth(role))
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert [i["response_id"] for i in items] == [second["id"], first["id"]]
    assert (items[0]["nps"], items[0]["csat"]) == (10, 5) and "answers" not in items[0]


def test_customer_responses_page_with_cursor(client, auth, clock):
    cid = str(uuid.uuid4())
    first, second = _two_responses(client, auth, clock, cid)
    page = client.get("/v1/surveys/responses", params={"customer_id": cid, "limit": 1}, headers=auth("staff")).json()
    assert [i["response_id"] for i in page["items"]] == [second["id"]]
    rest = client.get(
        "/v1/surveys/responses",
        params={"customer_id": cid, "limit": 1, "cursor": page["next_cursor"]},
        headers=auth("staff"),
    ).json()
    assert [i["response_id"] for i in rest["items"]] == [first["id"]] and rest["next_cursor"] is None


def test_customer_reads_its_own_responses_only(client, auth, clock):
    cid = str(uuid.uuid4())
    _two_responses(client, auth, clock, cid)
    own = client.get("/v1/surveys/responses", params={"customer_id": cid}, headers=auth("customer", sub=cid))
    assert own.status_code == 200 and len(own.json()["items"]) == 2
    other = client.get("/v1/surveys/responses", params={"customer_id": cid}, headers=auth("customer"))
    assert other.status_code == 404 and other.json()["code"] == "customer_not_found"


def test_customer_responses_for_system_is_403(client, auth):
    resp = client.get("/v1/surveys/responses", params={"customer_id": str(uuid.uuid4())}, headers=auth("system"))
    assert resp.status_code == 403


def test_customer_responses_without_token_is_401(client):
    assert client.get("/v1/surveys/responses", params={"customer_id": str(uuid.uuid4())}).status_code == 401


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "customer_id"),
        ({"customer_id": "x"}, "customer_id"),
        ({"customer_id": str(uuid.UUID(int=1)), "limit": 0}, "limit"),
        ({"customer_id": str(uuid.UUID(int=1)), "cursor": "zz"}, "cursor"),
    ],
)
def test_customer_responses_bad_query_is_422(client, auth, params, field):
    place_customer("feedback", client.app.state.db, str(uuid.UUID(int=1)))
    resp = client.get("/v1/surveys/responses", params=params, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", field]
