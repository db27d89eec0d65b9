"""deploy/k8s renders (kustomize, through kubectl's built-in) as the base and the production overlay;
every rendered manifest validates against the Kubernetes schemas (kubernetes-validate, strict), and
the manifests keep the issue's rules: probes, resources, hardening, a Service, HPA and PDB per process,
a migration Job per service, nothing secret, and NetworkPolicies under which only the gateway reaches
the services (besides the services' own event-feed polls) and only a service reaches its own database."""

import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.deploy.tools import require_binary, require_module

ROOT = Path(__file__).parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33"
PROCESSES = {"gateway": 8000, "profile": 8001, "segmentation": 8002, "feedback": 8003, "loyalty": 8004}
SERVICES = [p for p in PROCESSES if p != "gateway"]
TARGETS = ["base", "overlays/production"]


@pytest.fixture(scope="module")
def kubernetes_validate():
    return require_module("kubernetes_validate", "kubernetes-validate>=1.33,<2")


@cache
def render(target: str) -> tuple[dict, ...]:
    kubectl = require_binary("kubectl", None)
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def of_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("target", TARGETS)
def test_render_every_manifest_valid_against_kubernetes_schema(target, kubernetes_validate):
    docs = render(target)
    assert len(docs) > 40
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_validator_rejects_unknown_field(kubernetes_validate):
    deployment = dict(of_kind(render("base"), "Deployment")["profile"])
    deployment["spec"] = {**deployment["spec"], "replica": 3}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("target", TARGETS)
def test_deployments_probes_resources_hardening(target):
    deployments = of_kind(render(target), "Deployment")
    assert sorted(deployments) == sorted(PROCESSES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["metadata"]["namespace"] == "postal-savings"
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        # Service links would inject PROFILE_PORT=tcp://... (a Service is named profile) into every pod,
        # which the settings read as the port and refuse.
        assert pod["enableServiceLinks"] is False
        (container,) = pod["containers"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}, name
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}, name
        assert container["ports"] == [{"name": "http", "containerPort": PROCESSES[name], "protocol": "TCP"}]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), (name, bound)
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}  # noqa: S108 - an emptyDir, the only writable path
        assert "replicas" not in deployment["spec"]  # the HPA owns the count


@pytest.mark.parametrize("target", TARGETS)
def test_each_process_service_hpa_pdb_and_each_service_migration_job(target):
    docs = render(target)
    services, hpas, pdbs, jobs = (
        of_kind(docs, k) for k in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job")
    )
    deployments = of_kind(docs, "Deployment")
    for name, port in PROCESSES.items():
        selector = deployments[name]["spec"]["selector"]["matchLabels"]
        assert services[name]["spec"]["selector"] == selector
        assert services[name]["spec"]["ports"][0]["port"] == port
        assert services[f"{name}-metrics"]["spec"]["clusterIP"] == "None"
        assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name
        assert 2 <= hpas[name]["spec"]["minReplicas"] < hpas[name]["spec"]["maxReplicas"]
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == selector
    assert sorted(jobs) == sorted(f"{s}-migrate" for s in SERVICES)
    for service in SERVICES:
        job = jobs[f"{service}-migrate"]["spec"]["template"]["spec"]
        assert job["restartPolicy"] == "Never" and job["containers"][0]["args"] == ["migrate"]
        assert job["enableServiceLinks"] is False
        assert job["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        assert (
            job["containers"][0]["image"] == deployments[service]["spec"]["template"]["spec"]["containers"][0]["image"]
        )


@pytest.mark.parametrize("target", TARGETS)
def test_configuration_from_configmaps_secrets_only_referenced(target):
    docs = render(target)
    assert not of_kind(docs, "Secret")  # nothing secret in the repo
    config_maps = of_kind(docs, "ConfigMap")
    for doc in config_maps.values():
        for key in doc["data"]:
            assert not any(word in key for word in ("SECRET", "PII", "HMAC", "PASSWORD", "DATABASE_URL")), key
    for name, deployment in of_kind(docs, "Deployment").items():
        env_from = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        assert env_from == [{"configMapRef": {"name": f"{name}-config"}}, {"secretRef": {"name": f"{name}-secrets"}}]
        assert f"{name}-config" in config_maps
    gateway = config_maps["gateway-config"]["data"]
    for service in SERVICES:
        assert gateway[f"GATEWAY_{service.upper()}_URL"].startswith(f"http://{service}.")
        assert gateway[f"GATEWAY_{service.upper()}_URL"].endswith(f":{PROCESSES[service]}")


def test_production_overlay_production_settings_and_pinned_images():
    docs = render("overlays/production")
    for name, doc in of_kind(docs, "ConfigMap").items():
        prefix = name.removesuffix("-config").upper()
        assert doc["data"][f"{prefix}_ENVIRONMENT"] == "production"
        assert doc["data"][f"{prefix}_JWT_ALGORITHM"] == "RS256"
        # every process binds tokens to the same audience and the identity provider as issuer
        assert doc["data"][f"{prefix}_JWT_AUDIENCE"] == "postal-savings-suite"
        assert doc["data"][f"{prefix}_JWT_ISSUER"].startswith("https://")
    for deployment in of_kind(docs, "Deployment").values():
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert "/" in image.split(":")[0] and not image.endswith(":latest") and ":" in image


# --- NetworkPolicy semantics: a small evaluator over podSelector.matchLabels inside the namespace ---


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _port_ok(rule_ports, port: int, pod_port: int | None) -> bool:
    if not rule_ports:
        return True
    return any(p["port"] == port or (p["port"] == "http" and pod_port == port) for p in rule_ports)


def _allowed(policies, direction: str, subject: dict, peer: dict, port: int, subject_port: int | None) -> bool:
    """Is traffic allowed for `subject` (the selected pod) in `direction` with `peer` on `port`?"""
    selecting = [
        p for p in policies if direction in p["spec"]["policyTypes"] and _matches(p["spec"]["podSelector"], subject)
    ]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            peers = [x for x in rule.get(peers_key, []) if "namespaceSelector" not in x]
            if any(_matches(x["podSelector"], peer) for x in peers) and _port_ok(rule.get("ports"), port, subject_port):
                return True
    return False


def reaches(policies, source: dict, destination: dict, port: int) -> bool:
    return _allowed(policies, "Egress", source, destination, port, None) and _allowed(
        policies, "Ingress", destination, source, port, port
    )


def pod(name: str, component: str) -> dict:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "postal-savings",
    }


def test_network_policies_gateway_to_services_service_to_own_database_only():
    policies = list(of_kind(render("base"), "NetworkPolicy").values())
    gateway, stranger = pod("gateway", "gateway"), {"app": "debug-shell"}
    for service in SERVICES:
        target, port = pod(service, "service"), PROCESSES[service]
        database = {"postal-savings/database": service}
        assert reaches(policies, gateway, target, port)
        assert not reaches(policies, stranger, target, port)
        assert not reaches(policies, gateway, database, 5432)
        assert reaches(policies, target, database, 5432)
        assert reaches(policies, pod(service, "migration"), database, 5432)
        assert not reaches(policies, target, database, 8080)
        for other in SERVICES:
            if other != service:
                assert not reaches(policies, pod(other, "service"), database, 5432), (other, service)
                assert reaches(policies, pod(other, "service"), target, port)  # event-feed polls
    assert not reaches(policies, pod("profile", "service"), gateway, 8000)
    assert not reaches(policies, stranger, gateway, 8000)


def test_every_scheduled_job_has_a_cronjob_on_its_default_schedule():
    from services.feedback.config import FeedbackSettings
    from services.loyalty.config import LoyaltySettings
    from services.profile.config import ProfileSettings
    from services.segmentation.config import SegmentationSettings

    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "cronjobs.yaml").read_text()))
    found = {}
    for doc in docs:
        args = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[:2] == ["python", "-m"] and args[3] == "run"
        found[(args[2].split(".")[1], args[4])] = (doc["spec"]["schedule"], doc["spec"]["timeZone"])
    expected = {}
    for service, settings in (
        ("segmentation", SegmentationSettings),
        ("loyalty", LoyaltySettings),
        ("feedback", FeedbackSettings),
        ("profile", ProfileSettings),
    ):
        for field, info in settings.model_fields.items():
            if field.startswith("job_") and field.endswith("_schedule"):
                spec = str(info.default)
                cron = f"*/{int(spec[6:-1]) // 60} * * * *" if spec.startswith("every ") else spec
                expected[(service, field.removeprefix("job_").removesuffix("_schedule"))] = (cron, "Asia/Shanghai")
    assert found == expected
