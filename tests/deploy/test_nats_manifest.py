"""deploy/k8s/nats renders (kustomize) into manifests valid against the Kubernetes schemas: a 3-node
NATS StatefulSet with JetStream on a volume per node, routes to all three nodes, the accounts file
included, hardened like the suite's own pods, and passwords only from a Secret."""

import os
import re
import subprocess
from pathlib import Path

import yaml

from tests.deploy.test_kubernetes import KUBERNETES_VERSION, of_kind
from tests.deploy.tools import require_binary, require_module
from tests.natskit import require_nats_server

ROOT = Path(__file__).parents[2]
NATS = ROOT / "deploy" / "k8s" / "nats"


def render() -> list[dict]:
    kubectl = require_binary("kubectl", None)
    done = subprocess.run([kubectl, "kustomize", str(NATS)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_nats_manifests_valid_three_nodes_jetstream_on_volumes():
    validate = require_module("kubernetes_validate", "kubernetes-validate>=1.33,<2")
    docs = render()
    for doc in docs:
        validate.validate(doc, KUBERNETES_VERSION, strict=True)
    sts = of_kind(docs, "StatefulSet")["nats"]
    assert sts["spec"]["replicas"] == 3
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["data"]
    pod = sts["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["envFrom"] == [{"secretRef": {"name": "nats-secrets"}}]
    assert not of_kind(docs, "Secret")
    [config] = of_kind(docs, "ConfigMap").values()
    conf = config["data"]["nats.conf"]
    assert "jetstream {" in conf and "store_dir: /data/jetstream" in conf
    assert sorted(re.findall(r"nats://(nats-\d)\.nats-cluster", conf)) == ["nats-0", "nats-1", "nats-2"]
    assert "include ./accounts.conf" in conf
    passwords = re.findall(r"password: (\S+?)[,}]", config["data"]["accounts.conf"])
    assert passwords and all(p.startswith("$") for p in passwords)  # every one from the environment


def test_nats_server_accepts_the_cluster_config():
    binary = require_nats_server()
    names = re.findall(r"\$([A-Z_]+)", (NATS / "accounts.conf").read_text()) + ["POD_NAME"]
    env = {**os.environ, **dict.fromkeys(names, "x")}
    done = subprocess.run(
        [binary, "-t", "-c", "nats.conf"], cwd=NATS, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
