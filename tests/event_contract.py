"""The event contract as the tests hold it: every event a service writes to its outbox validates against
the JSON Schema for its type in docs/events/<owner>/<type>.json."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

SCHEMA_DIR = Path(__file__).parents[1] / "docs" / "events"
OWNERS = ("profile", "segmentation", "feedback", "loyalty")


@cache
def schemas(owner: str) -> dict[str, Draft202012Validator]:
    """{event type: validator} for every schema the owner publishes."""
    out = {}
    for path in sorted((SCHEMA_DIR / owner).glob("*.json")):
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        out[path.stem] = Draft202012Validator(schema)
    return out


def problems_with(owner: str, event: dict[str, Any]) -> list[str]:
    """What is wrong with one outbox event against the owner's contract (empty when it keeps it)."""
    validator = schemas(owner).get(event["type"])
    if validator is None:
        return [f"{owner} published {event['type']!r}, which has no schema in docs/events/{owner}/"]
    return [
        f"{owner} {event['type']} at position {event['position']}: {'/'.join(map(str, e.absolute_path)) or 'data'}: "
        f"{e.message}"
        for e in validator.iter_errors(event["data"])
    ]


def check_outbox(conn: Connection, owner: str) -> list[str]:
    """Every event in the connection's outbox against the owner's schemas."""
    if not inspect(conn).has_table("outbox_event"):
        return []
    rows = conn.execute(text("SELECT position, type, data FROM outbox_event ORDER BY position")).mappings().all()
    found: list[str] = []
    for row in rows:
        data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
        event = {"position": row["position"], "type": row["type"], "data": data}
        found += problems_with(owner, event)
    return found


def check_feed(client: Any, headers: dict[str, str], owner: str) -> list[str]:
    """Every event on a live owner's feed (`client` is an httpx.Client on its base URL) against its schemas."""
    found: list[str] = []
    after = 0
    while True:
        page = client.get("/v1/events", params={"after": after, "limit": 500}, headers=headers).json()
        for item in page["items"]:
            found += problems_with(owner, item)
        if not page["items"]:
            return found
        after = page["last_position"]
