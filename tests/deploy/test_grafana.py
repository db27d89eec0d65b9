"""deploy/grafana: the dashboards are JSON that Grafana loads (one overview and one per process), pick
their Prometheus through a `datasource` variable, and query only metric names the suite exposes; the
provisioning files point at the compose Prometheus and the dashboards folder."""

import json
from pathlib import Path

import pytest
import yaml

from tests.deploy.promql import exposed_metric_names, unknown_names

ROOT = Path(__file__).parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PROCESSES = ["gateway", "profile", "segmentation", "feedback", "loyalty"]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(board: dict) -> list[dict]:
    return [p for p in board["panels"] if p["type"] != "row"]


def test_dashboards_overview_and_one_per_process_unique_uids():
    assert sorted(p.stem for p in DASHBOARDS) == sorted(["overview", *PROCESSES])
    boards = [load(p) for p in DASHBOARDS]
    assert len({b["uid"] for b in boards}) == len(boards)
    assert all(b["title"] and b["schemaVersion"] >= 36 for b in boards)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_datasource_variable_and_panels_well_formed(path):
    board = load(path)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert panels(board)
    for panel in panels(board):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        assert panel["targets"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE and target["expr"].strip()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_queries_read_exposed_metrics_only(path):
    known = exposed_metric_names()
    for panel in panels(load(path)):
        for target in panel["targets"]:
            assert unknown_names(target["expr"], known, set()) == [], (panel["title"], target["expr"])


def test_unknown_metric_name_detected():
    known = exposed_metric_names()
    assert unknown_names('sum(rate(http_requests_totl{job="x"}[5m]))', known, set()) == ["http_requests_totl"]
    assert unknown_names('max({__name__=~"nothing_like_this_.+"})', known, set()) == ["~nothing_like_this_.+"]


def test_overview_covers_issue_topics():
    exprs = " ".join(t["expr"] for p in panels(load(GRAFANA / "dashboards" / "overview.json")) for t in p["targets"])
    for needle in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "feedback_complaints_overdue",
        "loyalty_points_issued_total",
        "loyalty_points_redeemed_total",
        "feed_consumer_lag_events",
        'route="/v1/complaints"',
    ):
        assert needle in exprs, needle


def test_provisioning_datasource_and_dashboard_folder():
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = datasource["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "postal-savings.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
