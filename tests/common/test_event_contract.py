"""The event contract, checked statically (every event written in any service test is also checked against
its schema when the test's database is torn down: tests/dbkit.py):

- every schema under docs/events/<owner>/ is a valid JSON Schema (2020-12) for one type of that owner;
- docs/events.md lists exactly the types that have schemas, each linked to its schema;
- every type a consumer handles is published by the owner of the feed it reads;
- every type with a schema is written by its owner's code (no schema for an event nobody publishes);
- the contract check itself finds what is wrong with an event."""

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from services.common.approvals import STEPS
from services.feedback.app import create_app as feedback_app
from services.loyalty.app import create_app as loyalty_app
from services.segmentation.app import create_app as segmentation_app
from tests.event_contract import OWNERS, SCHEMA_DIR, problems_with, schemas
from tests.feedback.conftest import feedback_settings
from tests.loyalty.conftest import loyalty_settings
from tests.segmentation.conftest import segmentation_settings

ROOT = Path(__file__).parents[2]
UNREACHABLE = "http://127.0.0.1:9/v1/events"  # consumers are built, never started


def documented() -> dict[str, dict[str, str]]:
    """{owner: {type: the schema link in its row}} from docs/events.md's per-owner tables."""
    found: dict[str, dict[str, str]] = {}
    owner = None
    for line in (ROOT / "docs" / "events.md").read_text().splitlines():
        if heading := re.match(r"^## (\w+) \(port", line):
            owner = heading.group(1)
            found[owner] = {}
        elif owner and (row := re.match(r"^\| `([a-z_]+\.[a-z_]+)` \| \[schema\]\(([^)]+)\) \|", line)):
            found[owner][row.group(1)] = row.group(2)
    return found


def test_every_schema_is_valid_and_names_its_owner_and_type():
    assert sorted(p.name for p in SCHEMA_DIR.iterdir() if p.is_dir()) == sorted(OWNERS)
    for owner in OWNERS:
        assert schemas(owner), owner
        for event_type, validator in schemas(owner).items():
            assert validator.schema["$id"] == f"urn:postal-savings:events:{owner}:{event_type}"
            assert validator.schema["type"] == "object" and validator.schema["additionalProperties"] is False


def test_docs_list_exactly_the_types_with_schemas_and_link_them():
    docs = documented()
    assert sorted(docs) == sorted(OWNERS)
    for owner in OWNERS:
        assert sorted(docs[owner]) == sorted(schemas(owner)), owner
        for event_type, link in docs[owner].items():
            assert link == f"events/{owner}/{event_type}.json"
            assert (ROOT / "docs" / link).is_file()


@pytest.mark.parametrize(
    ("service", "build"),
    [
        ("loyalty", lambda url: loyalty_app(_feeds(loyalty_settings(url), "profile", "segmentation", "feedback"))),
        (
            "segmentation",
            lambda url: segmentation_app(_feeds(segmentation_settings(url), "profile", "loyalty", "feedback")),
        ),
        ("feedback", lambda url: feedback_app(_feeds(feedback_settings(url), "profile", "segmentation"))),
    ],
)
def test_every_type_a_consumer_handles_is_published_by_its_feeds_owner(service, build, tmp_path):
    consumers = build(f"sqlite:///{tmp_path / service}.db").state.consumers
    assert consumers, service
    for feed, consumer in consumers.items():
        handled = set(consumer.handlers)
        assert handled, (service, feed)
        assert handled <= set(schemas(feed)), f"{service} handles {sorted(handled - set(schemas(feed)))} on {feed}"


def _feeds(settings: Any, *owners: str) -> Any:
    return settings.model_copy(update={f"{owner}_feed_url": UNREACHABLE for owner in owners})


def _literals(service: str) -> set[str]:
    """String constants in the service's own code, its consumers left out (they name others' types)."""
    found = set()
    for path in (ROOT / "services" / service).rglob("*.py"):
        if path.name == "consumers.py" or "migrations" in path.parts or "tools" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def _kit_steps(owner: str) -> set[str]:
    """The approval.* steps the kit's dual control writes for a service that has an approvals table."""
    models = (ROOT / "services" / owner / "models.py").read_text()
    return set(STEPS) if "approval_table(metadata)" in models else set()


@pytest.mark.parametrize("owner", OWNERS)
def test_every_type_with_a_schema_is_written_by_its_owner(owner):
    assert set(schemas(owner)) - _literals(owner) - _kit_steps(owner) == set()


GOOD = {"complaint_id": "6f1c2b8e-2f4b-4c3e-9d1a-0b6c1e2d3f4a", "due_at": "2026-03-17T02:00:00Z"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"type": "complaint.overdue", "data": GOOD}, []),
        ({"type": "complaint.overdue", "data": {**GOOD, "due_at": "2026-03-17 02:00"}}, ["due_at: '2026-03-17 02:00'"]),
        ({"type": "complaint.overdue", "data": {"complaint_id": GOOD["complaint_id"]}}, ["'due_at' is a required"]),
        ({"type": "complaint.overdue", "data": {**GOOD, "note": "x"}}, ["Additional properties"]),
        ({"type": "complaint.reopened", "data": GOOD}, ["'complaint.reopened', which has no schema"]),
    ],
)
def test_the_contract_check_names_what_is_wrong(event, expected):
    problems = problems_with("feedback", {"position": 7, **event})
    assert len(problems) == len(expected)
    for problem, part in zip(problems, expected, strict=True):
        assert part in problem
