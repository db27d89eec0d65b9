"""The Prometheus configurations and alert rules in deploy/prometheus pass promtool's checks, and the
rule unit tests (suite-alerts.test.yml: each alert firing and not firing) pass."""

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.promql import exposed_metric_names, unknown_names
from tests.deploy.tools import require_binary

ROOT = Path(__file__).parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_TESTS = Path(__file__).parent / "prometheus" / "suite-alerts.test.yml"
ALERTS = (
    "SuiteTargetDown",
    "SuiteServiceAbsent",
    "SuiteHigh5xxRatio",
    "SuiteHighLatencyP99",
    "GatewayUpstreamFailing",
    "SuiteConnectionLimitReached",
    "FeedbackComplaintOverdue",
    "FeedbackComplaintsAtRisk",
    "FeedConsumerLagGrowing",
    "FeedConsumerStalled",
    "OutboxRelayStalled",
    "OutboxRelayLagGrowing",
    "SuiteJobMissedWindow",
    "SuiteJobFailed",
    "SegmentationRecomputeFailed",
    "LoyaltyLedgerCheckFailed",
    "SuiteAuditChainShrank",
    "SuiteApprovalNearExpiry",
    "SuiteApprovalPastExpiry",
)


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_binary("promtool", "prometheus")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-k8s.yml"])
def test_check_config_scrape_config_valid(promtool, config):
    done = run(promtool, "check", "config", str(PROMETHEUS / config))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-k8s.yml"])
def test_scrape_config_every_process_one_job(config):
    jobs = [job["job_name"] for job in yaml.safe_load((PROMETHEUS / config).read_text())["scrape_configs"]]
    assert sorted(jobs) == ["feedback", "gateway", "loyalty", "profile", "segmentation"]


def test_check_rules_alert_rules_valid(promtool):
    rule_files = sorted((PROMETHEUS / "rules").glob("*.yml"))
    assert rule_files
    done = run(promtool, "check", "rules", *map(str, rule_files))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_every_issue_alert_present_with_severity_and_runbook():
    rules = [
        rule
        for path in sorted((PROMETHEUS / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    by_name = {rule["alert"]: rule for rule in rules}
    assert set(ALERTS) <= set(by_name)
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        anchor = rule["annotations"]["runbook_url"].split("#")[1]
        assert anchor == rule["alert"].lower()


def test_rules_unit_tests_every_alert_fires_and_stays_quiet(promtool):
    tested = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    cases = [case for test in tested for case in test.get("alert_rule_test", [])]
    for alert in ALERTS:  # each alert seen both firing and not firing
        assert any(c["alertname"] == alert and c["exp_alerts"] for c in cases), f"{alert} never seen firing"
        assert any(c["alertname"] == alert and not c["exp_alerts"] for c in cases), f"{alert} never seen quiet"
    done = run(promtool, "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_read_exposed_metrics_only():
    groups = [
        group
        for path in sorted((PROMETHEUS / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    recorded = {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}
    known = exposed_metric_names()
    for group in groups:
        for rule in group["rules"]:
            assert unknown_names(rule["expr"], known, recorded) == [], rule.get("alert") or rule.get("record")


def test_rules_alerts_read_recorded_series_from_their_own_group_after_the_record():
    # Groups evaluate concurrently; only inside one group is the order fixed.
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        groups = yaml.safe_load(path.read_text())["groups"]
        recorded_anywhere = {r["record"] for g in groups for r in g["rules"] if "record" in r}
        for group in groups:
            seen: set[str] = set()
            for rule in group["rules"]:
                if "record" in rule:
                    seen.add(rule["record"])
                    continue
                reads = {name for name in recorded_anywhere if name in rule["expr"]}
                assert reads <= seen, (rule["alert"], reads - seen)
