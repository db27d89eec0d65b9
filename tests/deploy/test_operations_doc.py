"""docs/operations.md answers what the deploy artefacts point at: every alert's runbook anchor is a
heading there, every Secret a Deployment reads is listed with its keys, and the local PostgreSQL mode
is described."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "operations.md"


def anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of the headings."""
    return {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def test_every_alert_runbook_anchor_is_a_heading():
    have = anchors(DOC.read_text())
    for path in (ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    doc, anchor = rule["annotations"]["runbook_url"].split("#")
                    assert doc == "docs/operations.md" and anchor in have, rule["alert"]


def test_every_secret_documented_with_its_keys():
    text = DOC.read_text()
    for path in (ROOT / "deploy" / "k8s" / "base").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Deployment":
                name = doc["metadata"]["name"]
                row = next(line for line in text.splitlines() if line.startswith(f"| `{name}-secrets` |"))
                assert f"{name.upper()}_JWT" in row
                if name != "gateway":
                    assert f"{name.upper()}_DATABASE_URL" in row


def test_local_postgres_mode_and_release_steps_documented():
    text = DOC.read_text()
    for needle in (
        "make run DB=postgres",
        "SUITE_POSTGRES_URL",
        "delete job -l app.kubernetes.io/component=migration",
        "PROFILE_PII_KEYS=k1:<old>,k2:<new>",
        "Capacity plan",
        "make bench",
    ):
        assert needle in text, needle
