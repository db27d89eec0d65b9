"""deploy/compose.yaml validates against the Compose specification's JSON schema (the copy that
check-jsonschema vendors and keeps current), and keeps the issue's rules: every process, PostgreSQL,
Prometheus and Grafana, health checks, migrations once before each service, hardened containers, no
secret in the file, and mounts that exist."""

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.deploy.tools import require_module

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = {"profile": 8001, "segmentation": 8002, "feedback": 8003, "loyalty": 8004}
PROCESSES = {"gateway": 8000, **SERVICES}
SECRET_WORDS = ("SECRET", "PASSWORD", "PII_KEYS", "HMAC_KEY")


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    vendor = require_module("check_jsonschema.builtin_schemas.vendor", "check-jsonschema>=0.33,<1")
    schema = json.loads(resources.files(vendor).joinpath("compose-spec.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_valid_against_compose_spec_schema(validator, compose):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_compose_schema_rejects_broken_file(validator, compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["profile"]["depends_on"]["migrate-profile"]["condition"] = "service_finished"
    broken["services"]["gateway"]["healthcheck"]["retries"] = "three"
    assert len(list(validator.iter_errors(broken))) >= 2


def test_compose_every_process_database_and_monitoring(compose):
    services = compose["services"]
    assert {"postgres", "prometheus", "grafana", *PROCESSES, *(f"migrate-{s}" for s in SERVICES)} == set(services)
    for name in [*PROCESSES, "postgres", "prometheus", "grafana"]:
        assert "test" in services[name]["healthcheck"], name
    for name, port in PROCESSES.items():
        assert services[name]["build"]["args"] == {"SERVICE": name}
        assert f":{port}/health/ready" in " ".join(services[name]["healthcheck"]["test"])


def test_compose_migrations_run_once_before_each_service(compose):
    services = compose["services"]
    for name in SERVICES:
        migrate = services[f"migrate-{name}"]
        assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
        assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        assert services[name]["depends_on"][f"migrate-{name}"] == {"condition": "service_completed_successfully"}
        assert migrate["image"] == services[name]["image"]
        assert migrate["environment"][f"{name.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/{name}")
    assert all(services["gateway"]["depends_on"][s] == {"condition": "service_healthy"} for s in SERVICES)
    init = (DEPLOY / "postgres" / "init-databases.sh").read_text()
    assert all(name in init for name in SERVICES)


def test_compose_processes_hardened(compose):
    for name in [*PROCESSES, *(f"migrate-{s}" for s in SERVICES)]:
        service = compose["services"][name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"]
        assert not service["user"].startswith("0"), name


def test_compose_no_secret_values_in_file(compose):
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            if any(word in key for word in SECRET_WORDS):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), (name, key)
            if "DATABASE_URL" in key:
                assert "${POSTGRES_PASSWORD}" in value
    example = (DEPLOY / ".env.example").read_text()
    assert all(
        line.split("=", 1)[1] == ""
        for line in example.splitlines()
        if "=" in line and any(w in line.split("=")[0] for w in SECRET_WORDS)
    )


def test_compose_mounts_exist_and_prometheus_targets_match(compose):
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in scrape}
    assert targets == {name: [f"{name}:{port}"] for name, port in PROCESSES.items()}
