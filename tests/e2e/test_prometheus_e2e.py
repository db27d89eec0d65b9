"""A real Prometheus server on loopback scrapes real profile and gateway processes (on SQLite, and on
PostgreSQL when reachable) with the suite's alert rules loaded; its HTTP API shows every target up,
the rules evaluating, and the request counters moving as traffic goes through the gateway."""

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from services.common.config import DEV_JWT_SECRET
from tests.dbkit import fresh_pg_database, require_postgres, worker_id
from tests.deploy.tools import require_binary
from tests.e2e.conftest import Process, Suite, base_env, free_port, migrate_service

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "suite-alerts.yml"
WAIT = 30.0


class Prometheus:
    """prometheus on a free loopback port with its own storage under tmp_path; killed at teardown."""

    def __init__(self, binary: str, targets: dict[str, str], tmp_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp_path / "prometheus.yml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [
                        {"job_name": job, "static_configs": [{"targets": [address]}]}
                        for job, address in targets.items()
                    ],
                }
            )
        )
        self.log_path = tmp_path / "prometheus.log"
        self.args = [
            binary,
            f"--config.file={self.config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1h",
        ]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200, "ready")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def api(self, path: str, **params) -> dict | list:
        r = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]

    def scalar(self, query: str) -> float | None:
        result = self.api("query", query=query)["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if condition():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus: {what} not seen within {WAIT} s\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


@dataclass
class Stack:
    suite: Suite
    prometheus: Prometheus


@contextmanager
def running_stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Profile on `database_url` (migrated here), the gateway, and Prometheus scraping both."""
    binary = require_binary("prometheus", "prometheus")
    migrate_service("profile", database_url)
    profile = Process(
        "profile",
        "services.profile.app:create_app",
        base_env(
            PROFILE_DATABASE_URL=database_url,
            PROFILE_ENVIRONMENT="test",
            PROFILE_LOG_LEVEL="WARNING",
            PROFILE_JWT_SECRET=DEV_JWT_SECRET,
        ),
        tmp_path / "profile.log",
    )
    gateway = Process(
        "gateway",
        "gateway.app:create_app",
        base_env(
            GATEWAY_PROFILE_URL=profile.url,
            GATEWAY_ENVIRONMENT="test",
            GATEWAY_LOG_LEVEL="WARNING",
            GATEWAY_JWT_SECRET=DEV_JWT_SECRET,
        ),
        tmp_path / "gateway.log",
    )
    prometheus = Prometheus(
        binary, {"gateway": f"127.0.0.1:{gateway.port}", "profile": f"127.0.0.1:{profile.port}"}, tmp_path
    )
    try:
        profile.spawn()
        gateway.spawn()
        prometheus.start()
        profile.wait_live()
        gateway.wait_live()
        yield Stack(Suite(profile=profile, gateway=gateway), prometheus)
    finally:
        prometheus.stop()
        gateway.stop()
        profile.stop()


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory) -> Iterator[Stack]:
    tmp_path = tmp_path_factory.mktemp("prometheus-sqlite")
    with running_stack(f"sqlite:///{tmp_path / 'profile.db'}", tmp_path) as stack:
        yield stack


@pytest.fixture(scope="module")
def postgres_stack(tmp_path_factory) -> Iterator[Stack]:
    """The production-like mode: profile on its own PostgreSQL database."""
    require_postgres()
    tmp_path = tmp_path_factory.mktemp("prometheus-postgres")
    with running_stack(fresh_pg_database(f"test_e2e_prometheus_{worker_id()}"), tmp_path) as stack:
        yield stack


@pytest.fixture(params=["sqlite", "postgres"])
def stack(request) -> Stack:
    return request.getfixturevalue(f"{request.param}_stack")


def send_requests(suite: Suite, headers: dict[str, str], count: int) -> None:
    with httpx.Client(base_url=suite.gateway.url, timeout=10) as http:
        for _ in range(count):
            assert http.get("/api/v1/customers", params={"limit": 5}, headers=headers).status_code == 200


def test_prometheus_scrapes_suite_targets_up_counters_moving(stack, auth):
    running_suite, prometheus = stack.suite, stack.prometheus

    def all_up() -> bool:
        targets = prometheus.api("targets", state="active")["activeTargets"]
        return sorted(t["labels"]["job"] for t in targets if t["health"] == "up") == ["gateway", "profile"]

    prometheus.wait_for(all_up, "both targets up")
    assert prometheus.scalar('sum(up{job=~"gateway|profile"})') == 2

    send_requests(running_suite, auth("staff"), 5)
    queries = {
        "gateway": 'sum(http_requests_total{job="gateway"})',
        "profile": 'sum(http_requests_total{job="profile",route="/v1/customers"})',
        "upstream": 'sum(gateway_upstream_requests_total{job="gateway",service="profile",status="200"})',
    }
    first: dict[str, float] = {}

    def counted_at_least(floor: float, seen: dict[str, float]) -> Callable[[], bool]:
        def check() -> bool:
            for name, query in queries.items():
                seen[name] = prometheus.scalar(query) or 0.0
            return all(value >= floor for value in seen.values())

        return check

    prometheus.wait_for(counted_at_least(5, first), "the first 5 requests counted")
    send_requests(running_suite, auth("staff"), 7)
    later: dict[str, float] = {}
    prometheus.wait_for(counted_at_least(min(first.values()) + 7, later), "7 more requests counted")
    assert all(later[name] >= first[name] + 7 for name in queries), (first, later)
    assert prometheus.scalar('count(http_request_duration_seconds_bucket{job="profile"})') > 0


def test_prometheus_loads_suite_rules_all_evaluate_dashboard_queries_accepted(sqlite_stack):
    prometheus = sqlite_stack.prometheus

    def evaluated() -> bool:
        groups = prometheus.api("rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return bool(rules) and all(rule["health"] == "ok" for rule in rules)

    prometheus.wait_for(evaluated, "every rule evaluated without error")
    names = {group["name"] for group in prometheus.api("rules")["groups"]}
    assert names == {"suite-availability", "suite-domain", "suite-jobs"}
    # Only profile and the gateway run here, so the absent-service alert must see the other three.
    prometheus.wait_for(
        lambda: (
            {
                a["labels"].get("job")
                for a in prometheus.api("alerts")["alerts"]
                if a["labels"]["alertname"] == "SuiteServiceAbsent"
            }
            == {"segmentation", "feedback", "loyalty"}
        ),
        "SuiteServiceAbsent pending for the absent three",
    )

    # Every Grafana panel's query parses and evaluates (dashboard variables filled as Grafana would).
    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                query = target["expr"].replace("$__rate_interval", "1m").replace("$instance", ".*")
                r = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": query}, timeout=5)
                assert r.status_code == 200, (path.name, panel["title"], r.text)
