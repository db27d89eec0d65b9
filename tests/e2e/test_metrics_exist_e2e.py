"""Every alert can fire and every dashboard panel can show something: the whole suite runs as real
processes (profile, segmentation, feedback, loyalty and the gateway, feeds between them), each
/metrics is scraped, and every metric name an alert rule or a dashboard panel reads must be declared
by some target (a `# TYPE` line, with its _total, _bucket, _sum and _count series)."""

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from services.common.config import DEV_JWT_SECRET
from tests.deploy.promql import PROMETHEUS_OWN, unknown_names
from tests.e2e.conftest import Process, base_env, migrate_service

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
SERVICES = ("profile", "segmentation", "feedback", "loyalty")
_TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$", re.M)


def declared(text: str) -> set[str]:
    names = set()
    for name, kind in _TYPE.findall(text):
        if kind == "counter":
            names |= {name, name.removesuffix("_total") + "_total"}
        elif kind in {"histogram", "summary"}:
            names |= {name, f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    return names


@pytest.fixture
def suite(tmp_path):
    procs: dict[str, Process] = {}
    for name in SERVICES:
        url = f"sqlite:///{tmp_path / name}.db"
        migrate_service(name, url)
        prefix = name.upper()
        env = {f"{prefix}_DATABASE_URL": url, f"{prefix}_ENVIRONMENT": "test", f"{prefix}_LOG_LEVEL": "WARNING"}
        procs[name] = Process(name, f"services.{name}.app:create_app", {**env}, tmp_path / f"{name}.log")
    gateway = Process("gateway", "gateway.app:create_app", {}, tmp_path / "gateway.log")
    ports = {name: str(p.port) for name, p in {**procs, "gateway": gateway}.items()}
    shared = {f"{name.upper()}_PORT": port for name, port in ports.items()}
    for name, p in procs.items():  # every peer URL derived from the ports alone
        p.env = base_env(**p.env, **shared, **{f"{name.upper()}_JWT_SECRET": DEV_JWT_SECRET})
    gateway.env = base_env(**shared, GATEWAY_ENVIRONMENT="test", GATEWAY_JWT_SECRET=DEV_JWT_SECRET)
    everyone = [*procs.values(), gateway]
    try:
        for p in everyone:
            p.spawn()
        for p in everyone:
            p.wait_live()
        yield {**procs, "gateway": gateway}
    finally:
        for p in reversed(everyone):
            p.stop()


def _exprs() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found.append((rule.get("alert") or rule["record"], rule["expr"]))
    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{path.stem}: {panel['title']}", target["expr"]))
    return found


def test_every_alert_and_panel_reads_metrics_a_running_target_exports(suite):
    exported = set(PROMETHEUS_OWN)
    for name, proc in suite.items():
        resp = httpx.get(f"{proc.url}/metrics", timeout=10)
        assert resp.status_code == 200, name
        exported |= declared(resp.text)
    recorded = {
        rule["record"]
        for path in (ROOT / "deploy" / "prometheus" / "rules").glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    missing = {where: unknown_names(expr, exported, recorded) for where, expr in _exprs()}
    assert {where: names for where, names in missing.items() if names} == {}
    # the consumers and jobs of the running suite are among them, found over the derived peer URLs
    assert {"feed_consumer_lag_events", "suite_job_deadline_timestamp_seconds"} <= exported
