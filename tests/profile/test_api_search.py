"""Searching customers: each filter, keyed-hash lookups, cursor pagination and its bad inputs."""

import pytest

from tests.profile import factories as f


@pytest.fixture
def people(client, auth):
    h = auth("staff")
    return {
        "wang": f.register(client, h, f.individual(name="王小明", branch_code="BJ0001")),
        "wang2": f.register(client, h, f.individual(name="王大力", branch_code="SH0001", region_type="rural")),
        "li": f.register(client, h, f.individual(name="李%华", branch_code="BJ0001")),
        "corp": f.register(client, h, f.enterprise(name="王府井百货有限公司")),
        "bank": f.register(client, h, f.enterprise("interbank", name="示例农村商业银行")),
    }


def _ids(client, auth, **params):
    resp = client.get("/v1/customers", params=params, headers=auth("staff"))
    assert resp.status_code == 200, resp.text
    return {c["id"] for c in resp.json()["items"]}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"name_prefix": "王"}, {"wang", "wang2", "corp"}),
        ({"name_prefix": "李%"}, {"li"}),
        ({"name_prefix": "%"}, set()),
        ({"branch_code": "BJ0001"}, {"wang", "li"}),
        ({"type": "interbank"}, {"bank"}),
        ({"region_type": "rural"}, {"wang2"}),
        ({"name_prefix": "王", "type": "individual"}, {"wang", "wang2"}),
        ({"status": "closed"}, set()),
    ],
)
def test_search_by_filter_returns_matches(client, auth, people, params, expected):
    assert _ids(client, auth, **params) == {people[k]["id"] for k in expected}


def test_search_by_customer_no_returns_one(client, auth, people):
    assert _ids(client, auth, customer_no=people["li"]["customer_no"]) == {people["li"]["id"]}


def test_search_by_exact_identity_and_phone_uses_keyed_hash(client, auth):
    body = f.individual()
    c = f.register(client, auth("staff"), body)
    f.register(client, auth("staff"))
    assert _ids(client, auth, id_number=body["resident_id"]) == {c["id"]}
    assert _ids(client, auth, id_number=body["resident_id"].lower()) == {c["id"]}
    assert _ids(client, auth, phone=body["phone"]) == {c["id"]}
    assert _ids(client, auth, phone="+86 " + body["phone"]) == {c["id"]}


def test_search_by_credit_code_finds_organisation(client, auth):
    body = f.enterprise()
    c = f.register(client, auth("staff"), body)
    assert _ids(client, auth, id_number=body["credit_code"]) == {c["id"]}


def test_search_closed_status_finds_closed(client, auth, people):
    client.post(f"/v1/customers/{people['li']['id']}/close", headers=auth("staff"))
    assert _ids(client, auth, status="closed") == {people["li"]["id"]}


def test_search_pages_cover_everything_once_in_order(client, auth, people):
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/customers", params=params, headers=auth("staff")).json()
        assert len(page["items"]) <= 2
        seen += [c["customer_no"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(people)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "eyJhIjoxfQ"}, "cursor"),
        ({"cursor": "WzFd"}, "cursor"),
        ({"type": "alien"}, "type"),
        ({"region_type": "x"}, "region_type"),
        ({"status": "gone"}, "status"),
        ({"customer_no": "12"}, "customer_no"),
        ({"branch_code": "bad code"}, "branch_code"),
        ({"phone": "12345678"}, "phone"),
        ({"id_number": "12345678901234567!"}, "id_number"),
        ({"id_number": "123"}, "id_number"),
        ({"name_prefix": "x" * 101}, "name_prefix"),
    ],
)
def test_search_bad_parameter_is_422_naming_it(client, auth, params, field):
    resp = client.get("/v1/customers", params=params, headers=auth("staff"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["loc"] == ["query", field]


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin", "system"])
def test_search_as_permitted_role_succeeds(client, auth, role):
    assert client.get("/v1/customers", headers=auth(role)).status_code == 200


def test_search_as_customer_is_403(client, auth):
    assert client.get("/v1/customers", headers=auth("customer")).status_code == 403


def test_search_without_token_is_401(client):
    assert client.get("/v1/customers").status_code == 401
