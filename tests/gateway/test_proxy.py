"""Forwarding to a real upstream over HTTP: what goes up, what comes back, and what happens when
the upstream is away, slow or drops the connection."""

import httpx
import pytest

from gateway.app import create_app
from tests.gateway.conftest import RawUpstream, ServedApp, echoed, gateway_settings, received_headers, sample


def test_forward_get_passes_method_path_query_and_authorization(gateway, upstream, auth):
    headers = auth("staff")
    r = gateway().get("/api/v1/customers/42?branch_code=BJ0001&name_prefix=%E7%8E%8B&x=a+b", headers=headers)
    assert r.status_code == 200
    seen = echoed(r)
    assert (seen["method"], seen["path"]) == ("GET", "/v1/customers/42")
    assert seen["query"] == "branch_code=BJ0001&name_prefix=%E7%8E%8B&x=a+b"
    assert received_headers(seen)["authorization"] == [headers["Authorization"]]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_forward_body_and_content_type_each_method(gateway, auth, method):
    r = gateway().request(
        method,
        "/api/v1/customers/42?status=201",
        headers={**auth("staff"), "Content-Type": "application/json", "If-Match": '"3"', "Idempotency-Key": "k-1"},
        content='{"name":"王小明"}'.encode(),
    )
    assert r.status_code == 201
    seen = echoed(r)
    headers = {name: values[0] for name, values in received_headers(seen).items()}
    assert (seen["method"], seen["body"]) == (method, '{"name":"王小明"}')
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len('{"name":"王小明"}'.encode()))
    assert (headers["if-match"], headers["idempotency-key"]) == ('"3"', "k-1")


def test_forward_head_and_options_reach_upstream(gateway, upstream, auth):
    client = gateway()
    assert client.head("/api/v1/customers/1", headers=auth("staff")).status_code == 200
    assert upstream.seen[-1]["method"] == "HEAD"
    assert client.options("/api/v1/customers/1", headers=auth("staff")).status_code == 200
    assert upstream.seen[-1]["method"] == "OPTIONS"


def test_forward_drops_hop_by_hop_headers(gateway, auth):
    r = gateway().get(
        "/api/v1/customers/1",
        headers={
            **auth("staff"),
            "Connection": "keep-alive, X-Hop-Secret",
            "X-Hop-Secret": "s",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Upgrade": "h2c",
            "X-End-To-End": "kept",
        },
    )
    got = received_headers(echoed(r))
    for hop in ("x-hop-secret", "keep-alive", "te", "proxy-authorization", "upgrade"):
        assert hop not in got
    assert got.get("connection", ["keep-alive"]) == ["keep-alive"]  # only the client library's own
    assert got["x-end-to-end"] == ["kept"]


def test_forward_sets_forwarded_headers(gateway, auth):
    r = gateway().get(
        "/api/v1/customers/1", headers={**auth("staff"), "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "ftp"}
    )
    got = received_headers(echoed(r))
    assert got["x-forwarded-for"] == ["203.0.113.9, testclient"]
    assert got["x-forwarded-proto"] == ["http"]
    assert got["x-forwarded-host"] == ["testserver"]
    assert len(got["host"]) == 1 and got["host"][0].startswith("127.0.0.1:")


def test_forward_sends_no_headers_the_caller_did_not(gateway, auth):
    r = gateway().post("/api/v1/customers", headers=auth("staff"), content=b"raw")
    got = received_headers(echoed(r))
    # A client library may add Content-Type, Accept-Encoding and User-Agent; an upstream must see the caller's.
    assert "content-type" not in got
    assert got["accept-encoding"] == ["gzip, deflate"]  # TestClient's own
    assert got["user-agent"] == ["testclient"]


def test_relay_keeps_upstream_status_headers_and_body(gateway, auth):
    r = gateway().get("/api/v1/customers/1?status=418", headers=auth("staff"))
    assert r.status_code == 418
    assert (r.headers["etag"], r.headers["x-upstream"]) == ('"7"', "echo")
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)
    assert echoed(r)["path"] == "/v1/customers/1"


@pytest.mark.parametrize(
    ("location", "relayed"),
    [
        ("/v1/customers/7", "/api/v1/customers/7"),
        ("https://elsewhere.example/v1/x", "https://elsewhere.example/v1/x"),
        ("/other", "/other"),
    ],
)
def test_relay_service_location_mapped_under_api(gateway, auth, location, relayed):
    r = gateway().post(f"/api/v1/customers?status=201&location={location}", headers=auth("staff"))
    assert r.headers["location"] == relayed


def test_relay_one_request_id_date_and_server(gateway, auth):
    r = gateway().get("/api/v1/customers/1", headers={**auth("staff"), "X-Request-ID": "req-one"})
    assert r.headers.get_list("x-request-id") == ["req-one"]
    assert len(r.headers.get_list("date")) <= 1 and len(r.headers.get_list("server")) <= 1


def test_relay_streamed_body_arrives_whole(gateway, auth):
    r = gateway().get("/api/v1/customers/1?chunks=50", headers=auth("staff"))
    assert r.status_code == 200
    assert r.text == "".join(f"part-{i};" for i in range(50))


def test_relay_upstream_cookie_not_shared_with_next_caller(gateway, upstream, auth):
    # By host name: cookie jars ignore cookies set by an IP address, which would hide a shared jar.
    client = gateway(profile_url=upstream.url.replace("127.0.0.1", "localhost"))
    first = client.get("/api/v1/customers/1?set_cookie=1", headers=auth("staff"))
    assert "session=" in first.headers["set-cookie"]
    client.cookies.clear()  # the next caller is someone else
    client.get("/api/v1/customers/2", headers=auth("staff"))
    assert "cookie" not in received_headers(upstream.seen[-1])


def test_forward_non_ascii_path_encoded_once(gateway, upstream, auth):
    r = gateway().get("/api/v1/customers/%E7%8E%8B%20x", headers=auth("staff"))
    assert r.status_code == 200
    assert upstream.seen[-1]["path"] == "/v1/customers/王 x"


@pytest.mark.parametrize(
    "path", ["/api/v1/events", "/api/v1/events/1", "/api/v1/customers/%2e%2e/events", "/api/v1/accounts/1", "/api/v1/"]
)
def test_unroutable_path_404_problem_no_upstream_call(gateway, upstream, auth, path):
    before = len(upstream.seen)
    r = gateway().get(path, headers=auth("system"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "route_not_found"
    assert len(upstream.seen) == before


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/segments", "segmentation"),
        ("/api/v1/complaints/1", "feedback"),
        ("/api/v1/loyalty/accounts/1", "loyalty"),
    ],
)
def test_unconfigured_service_503_names_it(gateway, auth, path, service):
    r = gateway().get(path, headers=auth("staff"))
    assert r.status_code == 503
    body = r.json()
    assert (body["code"], body["service"]) == ("service_not_configured", service)
    assert service in body["detail"]


def test_other_configured_service_routed_to_its_own_url(gateway, serve, upstream, auth):
    loyalty = serve()
    r = gateway(loyalty_url=loyalty.url).get("/api/v1/loyalty/accounts/9", headers=auth("staff"))
    assert r.status_code == 200
    assert loyalty.seen[-1]["path"] == "/v1/loyalty/accounts/9"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_upstream_down_503_problem_names_service(gateway, dead_url, auth, method):
    r = gateway(profile_url=dead_url).request(method, "/api/v1/customers", headers=auth("staff"), json={})
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["code"], body["service"]) == ("upstream_unavailable", "profile")
    assert "profile" in body["detail"] and body["request_id"] == r.headers["x-request-id"]


def test_upstream_slow_504_problem_names_service(gateway, auth):
    client = gateway(read_timeout_seconds=0.2)
    r = client.get("/api/v1/customers/1?sleep=3", headers=auth("staff"))
    assert r.status_code == 504
    body = r.json()
    assert (body["code"], body["service"]) == ("upstream_timeout", "profile")
    assert "profile" in body["detail"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_idempotent_request_retried_once_after_dropped_connection(gateway, auth, method):
    with RawUpstream(drop=1) as flaky:
        r = gateway(profile_url=flaky.url).request(method, "/api/v1/customers/1", headers=auth("staff"))
        assert r.status_code == 200
        assert flaky.connections == 2


def test_idempotent_request_not_retried_twice(gateway, auth):
    with RawUpstream(drop=5) as flaky:
        r = gateway(profile_url=flaky.url).get("/api/v1/customers/1", headers=auth("staff"))
        assert r.status_code == 503
        assert flaky.connections == 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_non_idempotent_request_never_retried(gateway, auth, method):
    with RawUpstream(drop=1) as flaky:
        client = gateway(profile_url=flaky.url)
        r = client.request(method, "/api/v1/customers/1", headers=auth("staff"), json={"a": 1})
        assert r.status_code == 503
        assert r.json()["code"] == "upstream_unavailable"
        assert flaky.connections == 1
        assert sample(client, "gateway_upstream_retries_total", service="profile") == 0


@pytest.mark.parametrize(
    "framing",
    [b"content-length: 100\r\n\r\npartial", b"transfer-encoding: chunked\r\n\r\n7\r\npartial\r\n"],
    ids=["content-length", "chunked"],
)
def test_upstream_body_cut_short_client_sees_truncation_gateway_lives_on(auth, framing):
    cut = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n" + framing
    with (
        RawUpstream(answer=cut) as upstream,
        ServedApp(create_app(gateway_settings(profile_url=upstream.url)), lifespan="on") as gateway,
        httpx.Client(base_url=gateway.url, timeout=10) as http,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/api/v1/customers/1", headers=auth("staff"))
        metrics = http.get("/metrics").text
        assert 'gateway_upstream_errors_total{kind="refused",service="profile"} 1.0' in metrics
        assert http.get("/health/live").status_code == 200


def test_body_over_limit_413_problem_no_upstream_call(gateway, upstream, auth):
    before = len(upstream.seen)
    r = gateway(max_body_bytes=10).post("/api/v1/customers", headers=auth("staff"), content=b"x" * 11)
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    assert len(upstream.seen) == before
