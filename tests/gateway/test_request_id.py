"""X-Request-ID: the caller's, or one the gateway makes, reaches the service and comes back once."""

from tests.gateway.conftest import echoed, received_headers


def test_request_id_given_passed_to_upstream_and_returned(gateway, upstream, auth):
    r = gateway().get("/api/v1/customers/1", headers={**auth("staff"), "X-Request-ID": "branch-app.42"})
    assert received_headers(echoed(r))["x-request-id"] == ["branch-app.42"]
    assert r.headers.get_list("x-request-id") == ["branch-app.42"]


def test_request_id_absent_made_by_gateway_and_passed(gateway, upstream, auth):
    r = gateway().get("/api/v1/customers/1", headers=auth("staff"))
    made = r.headers.get_list("x-request-id")
    assert len(made) == 1 and len(made[0]) >= 16
    assert received_headers(echoed(r))["x-request-id"] == made


def test_request_id_unsafe_replaced_before_forwarding(gateway, upstream, auth):
    r = gateway().get("/api/v1/customers/1", headers={**auth("staff"), "X-Request-ID": "a b<script>"})
    forwarded = received_headers(echoed(r))["x-request-id"]
    assert forwarded == r.headers.get_list("x-request-id")
    assert forwarded != ["a b<script>"]


def test_request_id_in_gateway_problem(gateway, auth):
    r = gateway().get("/api/v1/nosuch", headers={**auth("staff"), "X-Request-ID": "rid-404"})
    assert r.json()["request_id"] == "rid-404"
