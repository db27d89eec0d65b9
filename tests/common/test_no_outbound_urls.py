"""OWASP API7 (server-side request forgery): no operation of any app takes a URL, a host or a callback
to fetch; every outbound call the suite makes goes to addresses from its own settings (the feeds, the
gateway's upstreams). A new field or parameter named like one, or typed as a URI, fails this test."""

import re
from collections.abc import Iterator
from typing import Any

from tests.common.test_access_catalogue import _apps

URLISH = re.compile(r"(^|_)(url|uri|href|host|hostname|endpoint|callback|webhook|redirect)s?($|_)", re.IGNORECASE)


def _properties(schema: Any, components: dict[str, Any], seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                yield from _properties(components.get(name, {}), components, seen)
            return
        yield from (schema.get("properties") or {}).items()
        for value in schema.values():
            if isinstance(value, dict | list):
                yield from _properties(value, components, seen)
    elif isinstance(schema, list):
        for item in schema:
            yield from _properties(item, components, seen)


def test_no_operation_takes_a_url_host_or_callback(tmp_path) -> None:
    found = []
    for name, app in _apps(tmp_path).items():
        spec = app.openapi()
        components = spec.get("components", {}).get("schemas", {})
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                for param in op.get("parameters", []):
                    if URLISH.search(param["name"]) or param.get("schema", {}).get("format") == "uri":
                        found.append(f"{name} {method.upper()} {path}: parameter {param['name']}")
                body = op.get("requestBody", {}).get("content", {})
                for media in body.values():
                    for prop, sub in _properties(media.get("schema"), components, set()):
                        if URLISH.search(prop) or (isinstance(sub, dict) and sub.get("format") == "uri"):
                            found.append(f"{name} {method.upper()} {path}: field {prop}")
    assert found == []


def test_the_check_finds_a_url_field() -> None:
    schema = {"properties": {"note": {"type": "string"}, "callback_url": {"type": "string"}}}
    assert [p for p, _ in _properties(schema, {}, set()) if URLISH.search(p)] == ["callback_url"]
