"""GET /v1/customers/{id} is answered in front of FastAPI (services.profile.api.fast_read) in its common
case: the answer is byte for byte the route's, and every other case still reaches the route."""

import uuid

import pytest

from tests.profile import factories as f

STABLE = ("date", "x-request-id")


def _both(client, app, url: str, headers: dict):
    """(fast answer, route answer) for the same request."""
    fast_path = app.state.fast_paths[0]
    fast = client.get(url, headers=headers)
    fast_path.enabled = False
    try:
        slow = client.get(url, headers=headers)
    finally:
        fast_path.enabled = True
    return fast, slow


def _same(fast, slow) -> None:
    assert fast.status_code == slow.status_code
    if fast.headers["content-type"] == "application/problem+json":  # each carries its own request id
        assert {**fast.json(), "request_id": None} == {**slow.json(), "request_id": None}
    else:
        assert fast.content == slow.content
    assert [(k, v) for k, v in fast.headers.items() if k not in STABLE] == [
        (k, v) for k, v in slow.headers.items() if k not in STABLE
    ]


@pytest.mark.parametrize("kind", ["individual", "individual_no_email", "enterprise", "interbank", "closed"])
def test_fast_answer_identical_to_route_for_every_kind_of_customer(client, profile_app, auth, kind):
    body = {
        "individual": f.individual(),
        "individual_no_email": f.individual(email=None),
        "enterprise": f.enterprise(),
        "interbank": f.enterprise("interbank"),
        "closed": f.individual(),
    }[kind]
    c = f.register(client, auth("staff"), body)
    if kind == "closed":
        assert (
            client.post(f"/v1/customers/{c['id']}/close", json={"reason": "moved"}, headers=auth("staff")).status_code
            == 200
        )
    for headers in (auth("staff"), auth("customer", sub=c["id"]), auth("system")):
        fast, slow = _both(client, profile_app, f"/v1/customers/{c['id']}", headers)
        assert fast.status_code == 200
        _same(fast, slow)


def test_fast_path_answers_without_the_route(client, profile_app, auth, monkeypatch):
    c = f.register(client, auth("staff"))

    def broken(*_args):
        raise RuntimeError("the route was reached")

    monkeypatch.setattr("services.profile.api.customers.customer_response", broken)
    # admin (and the customer, and system): a branch-bound caller's reach is checked by the route
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("admin")).status_code == 200
    profile_app.state.fast_paths[0].enabled = False
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("admin")).status_code == 500


def test_fast_path_answers_staff_within_their_branch_once_the_tree_is_cached(client, profile_app, auth, monkeypatch):
    c = f.register(client, auth("staff"))
    url = f"/v1/customers/{c['id']}"
    # the first branch-bound read goes to the route, which loads the tree into the process's cache
    fast, slow = _both(client, profile_app, url, auth("staff"))
    assert fast.status_code == 200
    _same(fast, slow)
    assert profile_app.state.branch_scope.tree.cached() is not None
    for branch in ("BR0001", "TP0001", "HQ0001"):  # the customer's city, its province, the head office
        fast, slow = _both(client, profile_app, url, auth("supervisor", branch=branch))
        _same(fast, slow)
        assert fast.status_code == 200
    outside = auth("staff", branch="CT0002")
    fast, slow = _both(client, profile_app, url, outside)
    _same(fast, slow)
    assert fast.status_code == 404

    def broken(*_args):
        raise RuntimeError("the route was reached")

    monkeypatch.setattr("services.profile.api.customers.customer_response", broken)
    assert client.get(url, headers=auth("staff")).status_code == 200  # answered in front of the route
    assert client.get(url, headers=outside).status_code == 404  # the route answers an out-of-branch caller


@pytest.mark.parametrize(
    "case",
    [
        "no_token",
        "bad_token",
        "basic_scheme",
        "other_customer",
        "system_without_scope",
        "unknown_id",
        "upper_case_id",
        "query",
    ],
)
def test_every_other_case_answered_by_the_route(client, profile_app, auth, case):
    c = f.register(client, auth("staff"))
    url, headers = f"/v1/customers/{c['id']}", auth("staff")
    if case == "no_token":
        headers = {}
    elif case == "bad_token":
        headers = {"Authorization": "Bearer not-a-jwt"}
    elif case == "basic_scheme":
        headers = {"Authorization": "Basic c3RhZmY6eA=="}
    elif case == "other_customer":
        headers = auth("customer", sub=str(uuid.uuid4()))
    elif case == "system_without_scope":
        headers = auth("system", scope="events:read transactions:read")
    elif case == "unknown_id":
        url = f"/v1/customers/{uuid.uuid4()}"
    elif case == "upper_case_id":
        url = f"/v1/customers/{c['id'].upper()}"
    else:
        url += "?reveal=true"
    fast, slow = _both(client, profile_app, url, headers)
    _same(fast, slow)
    expected = {
        "no_token": 401,
        "bad_token": 401,
        "basic_scheme": 401,
        "other_customer": 404,
        "system_without_scope": 403,
        "unknown_id": 404,
        "upper_case_id": 200,
        "query": 422,
    }[case]
    assert fast.status_code == expected


def test_fast_read_counted_under_its_route_template(client, auth):
    c = f.register(client, auth("staff"))
    for _ in range(3):
        assert client.get(f"/v1/customers/{c['id']}", headers=auth("staff")).status_code == 200
    metrics = client.get("/metrics").text
    line = 'http_requests_total{method="GET",route="/v1/customers/{customer_id}",status="200"} 3.0'
    assert line in metrics
    assert c["id"] not in metrics


def test_fast_read_sees_an_update_at_once(client, auth):
    c = f.register(client, auth("staff"))
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("staff")).json()["name"] == c["name"]
    resp = client.patch(f"/v1/customers/{c['id']}", json={"name": "李四"}, headers={**auth("staff"), "If-Match": '"1"'})
    assert resp.status_code == 200
    after = client.get(f"/v1/customers/{c['id']}", headers=auth("staff"))
    assert (after.json()["name"], after.headers["etag"]) == ("李四", '"2"')
