"""What clients lean on, with real processes: the real profile service, stand-ins for segmentation,
loyalty and feedback (they are being built), and the gateway. The customer overview with everything
up and with each service stopped in turn; the circuit breaker opening and closing; rate limits in
memory and shared through Redis; CORS; the body limit; retries; the merged OpenAPI; and Swagger UI
over it in headless Chromium."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import CORS_ORIGIN, STANDIN_SERVICES, Process
from tests.e2e.test_gateway_profile import REGISTRATION
from tests.gateway.test_openapi_merge import METHODS, assert_valid
from tests.gateway.test_ratelimit import REDIS_URL, _redis_reachable

pytestmark = pytest.mark.e2e
PARTS_OF = {
    "profile": {"profile", "risk_assessment"},
    "segmentation": {"segments"},
    "loyalty": {"points", "points_expiring"},
    "feedback": {"open_complaints", "latest_satisfaction"},
}


def metric(http: httpx.Client, name: str, **labels: str) -> float:
    text = http.get("/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def register(http: httpx.Client, headers: dict[str, str]) -> str:
    """The customer's id; the module's tests share one profile database, so the second time it is a 409."""
    r = http.post("/api/v1/customers", json=REGISTRATION, headers=headers)
    assert r.status_code in (201, 409), r.text
    return r.json()["id"] if r.status_code == 201 else r.json()["existing_customer_id"]


def gaps(body: dict) -> dict[str, str]:
    return {gap["part"]: gap["reason"] for gap in body["partial"]}


def test_overview_all_up_then_each_service_stopped_in_turn(client_suite, auth):
    with httpx.Client(base_url=client_suite.gateway.url, timeout=10) as http:
        customer = register(http, auth("staff"))
        path = f"/api/v1/customers/{customer}/overview"
        full = http.get(path, headers=auth("staff"))
        assert full.status_code == 200, full.text
        body = full.json()
        assert body["partial"] == [] and body["profile"]["phone"] == "138****5678"
        assert body["segments"] and body["points"]["balance"] == 1200 and body["open_complaints"]
        assert http.get(path, headers=auth("customer", sub=customer)).status_code == 200
        assert http.get(path, headers=auth("customer")).status_code == 404

        for name in ("segmentation", "loyalty", "feedback", "profile"):
            client_suite.service(name).stop()
            try:
                r = http.get(path, headers=auth("staff"))
                assert r.status_code == 200, (name, r.text)
                assert gaps(r.json()) == dict.fromkeys(PARTS_OF[name], "unavailable"), name
                assert http.get("/health").json()["services"][name]["status"] == "down"
            finally:
                client_suite.service(name).start()  # same port
        assert http.get(path, headers=auth("staff")).json()["partial"] == []


def test_overview_slow_service_partial_within_budget(client_suite, auth):
    with httpx.Client(base_url=client_suite.gateway.url, timeout=10) as http:
        customer = register(http, auth("staff"))
        steer = client_suite.standins["feedback"].url + "/_standin"
        httpx.post(steer, json={"delay": 6})
        try:
            body = http.get(f"/api/v1/customers/{customer}/overview", headers=auth("staff")).json()
        finally:
            httpx.post(steer, json={"delay": 0})
        assert gaps(body) == {"open_complaints": "timeout", "latest_satisfaction": "timeout"}
        assert body["points"] is not None


def test_breaker_opens_on_stopped_service_then_closes_when_back(client_suite, auth):
    loyalty = client_suite.standins["loyalty"]
    with httpx.Client(base_url=client_suite.gateway.url, timeout=10) as http:
        path = "/api/v1/loyalty/accounts/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
        assert http.get(path, headers=auth("staff")).status_code == 200
        loyalty.stop()
        try:
            codes = [http.get(path, headers=auth("staff")).json()["code"] for _ in range(4)]
            assert codes == ["upstream_unavailable"] * 3 + ["circuit_open"]
            assert metric(http, "gateway_upstream_circuit_state", service="loyalty") == 2
            assert http.get("/health").json()["services"]["loyalty"]["circuit"] == "open"
        finally:
            loyalty.start()
        for _ in range(50):  # the cool-down is a second; then the next request is the probe
            if http.get(path, headers=auth("staff")).status_code == 200:
                break
            time.sleep(0.1)
        assert metric(http, "gateway_upstream_circuit_state", service="loyalty") == 0
        assert http.get("/health").json()["services"]["loyalty"]["circuit"] == "closed"


def test_retries_idempotent_and_keyed_writes_only(client_suite, auth):
    # The breaker opens after three failures: exactly three requests here, and a success closes it.
    with httpx.Client(base_url=client_suite.gateway.url, timeout=10) as http:
        retries = metric(http, "gateway_upstream_retries_total", service="profile")
        client_suite.profile.stop()
        try:
            assert http.get("/api/v1/customers/x", headers=auth("staff")).status_code == 503
            assert metric(http, "gateway_upstream_retries_total", service="profile") == retries + 1
            assert http.post("/api/v1/customers", json={}, headers=auth("staff")).status_code == 503
            assert metric(http, "gateway_upstream_retries_total", service="profile") == retries + 1
            keyed = {**auth("staff"), "Idempotency-Key": "e2e-key-1"}
            assert http.post("/api/v1/customers", json={}, headers=keyed).status_code == 503
            assert metric(http, "gateway_upstream_retries_total", service="profile") == retries + 2
        finally:
            client_suite.profile.start()
        for _ in range(50):
            if http.get("/api/v1/customers?limit=1", headers=auth("staff")).status_code == 200:
                break
            time.sleep(0.1)


def test_limits_cors_and_body_size(client_suite, auth):
    with httpx.Client(base_url=client_suite.gateway.url, timeout=10) as http:
        headers = auth("system")
        statuses = [http.post("/api/v1/transactions:batch", json={}, headers=headers).status_code for _ in range(3)]
        assert statuses[:2] != [429, 429] and statuses[2] == 429
        r = http.post("/api/v1/transactions:batch", json={}, headers=headers)
        assert r.json()["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1

        pre = http.options(
            "/api/v1/customers",
            headers={
                "Origin": CORS_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert (pre.status_code, pre.headers["access-control-allow-origin"]) == (200, CORS_ORIGIN)
        assert pre.headers["x-content-type-options"] == "nosniff"

        big = http.post("/api/v1/customers", content=b"x" * 5000, headers=auth("staff"))
        assert (big.status_code, big.json()["code"]) == (413, "payload_too_large")


def test_rate_limit_shared_through_redis_by_two_gateways(client_suite, auth):
    if not _redis_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    env = client_suite.gateway_env(GATEWAY_REDIS_URL=REDIS_URL, GATEWAY_RATE_LIMIT_WRITES="3/day")
    replicas = [
        Process(f"gateway-{i}", "gateway.app:create_app", env, client_suite.tmp_path / f"gw{i}.log") for i in (1, 2)
    ]
    try:
        for replica in replicas:
            replica.spawn()
        for replica in replicas:
            replica.wait_live()
        headers = auth("staff")
        statuses = [
            httpx.post(replicas[i % 2].url + "/api/v1/customers/x/close", headers=headers).status_code for i in range(4)
        ]
        assert statuses[3] == 429 and 429 not in statuses[:3]
    finally:
        for replica in replicas:
            replica.stop()


def test_merged_openapi_every_operation_once(client_suite):
    spec = httpx.get(client_suite.gateway.url + "/api/openapi.json", timeout=10).json()
    assert_valid(spec)
    assert spec["info"]["x-services"] == dict.fromkeys(["profile", *STANDIN_SERVICES], "merged")
    profile_spec = httpx.get(client_suite.profile.url + "/openapi.json", timeout=10).json()
    profile_ops = {
        ("/api" + p, m)
        for p, item in profile_spec["paths"].items()
        if p.startswith("/v1/customers")
        for m in item
        if m in METHODS
    }
    merged_ops = [(p, m) for p, item in spec["paths"].items() for m in item if m in METHODS]
    assert profile_ops <= set(merged_ops)
    assert len(merged_ops) == len(set(merged_ops))
    assert not [p for p in spec["paths"] if "/events" in p]


def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env, capture_output=True, timeout=600)
        found = shutil.which("chromium")
    return found


def test_swagger_ui_in_headless_chromium_lists_merged_operations(client_suite):
    browser = chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed and could not be (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile_dir:
        proc = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                f"--user-data-dir={profile_dir}",
                "--virtual-time-budget=20000",
                "--dump-dom",
                client_suite.gateway.url + "/api/docs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    dom = proc.stdout
    Path(client_suite.tmp_path / "docs.html").write_text(dom)
    assert "swagger-ui" in dom, proc.stderr[-2000:]
    for path in (
        "/api/v1/customers/{customer_id}/overview",
        "/api/v1/customers/{customer_id}",
        "/api/v1/memberships",
        "/api/v1/loyalty/accounts/{customer_id}",
        "/api/v1/complaints",
    ):
        assert f'data-path="{path}"' in dom, path
