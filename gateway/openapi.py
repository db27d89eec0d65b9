"""One OpenAPI document for clients: the gateway's own paths plus every live service's, under /api/v1,
with components merged without collisions; cached briefly. Swagger UI over it at /api/docs, with its
assets served from here (no CDN)."""

import asyncio
import copy
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.h1pool import UpstreamError
from gateway.overview_fanout import PARTS
from gateway.routes import API_PREFIX
from gateway.upstream import UpstreamClient
from services.common.docs import docs_router
from services.common.errors import PROBLEM_MEDIA_TYPE
from services.common.openapi_doc import PROBLEM_REF

OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
CATCH_ALL = "/api/v1/{path}"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REF = "#/components/"
Document = dict[str, Any]  # an OpenAPI document, or a part of one, as parsed JSON


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: (renames.get(v, v) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v, renames))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def _merge_components(merged: Document, spec: Document, service: str) -> dict[str, str]:
    """Adds the service's components to `merged`; a name already taken by something different gets the
    service's name in front (Problem -> ProfileProblem). Returns the $ref renames to apply."""
    renames: dict[str, str] = {}
    prefix = service.capitalize()
    for section, items in (spec.get("components") or {}).items():
        target = merged.setdefault(section, {})
        for name, value in items.items():
            if name not in target or target[name] == value:
                continue
            new = prefix + name
            n = 2
            while new in target and target[new] != value:
                new, n = f"{prefix}{name}{n}", n + 1
            renames[f"{_REF}{section}/{name}"] = f"{_REF}{section}/{new}"
    for section, items in (spec.get("components") or {}).items():
        target = merged[section]
        for name, value in items.items():
            new = renames.get(f"{_REF}{section}/{name}", f"{_REF}{section}/{name}").rsplit("/", 1)[1]
            value = _rewrite_refs(value, renames)
            if new != name and isinstance(value, dict) and value.get("title") == name:
                value["title"] = new  # generators name models by title: two `Question`s would clash
            target.setdefault(new, value)
    return renames


def merge(own: Document, services: dict[str, Document], routed: Callable[[str], str | None]) -> Document:
    """`own` is the gateway's document; `services` each live service's. A service path is taken only
    when the route table sends it to that service (its event feed and health paths are not client
    paths), and the gateway's own paths win any clash. operationIds stay unique."""
    doc = copy.deepcopy(own)
    doc["paths"] = {p: v for p, v in doc.get("paths", {}).items() if p != CATCH_ALL}
    components = doc.setdefault("components", {})
    op_ids = {op.get("operationId") for item in doc["paths"].values() for m, op in item.items() if m in _METHODS}
    tags = {t["name"]: t for t in doc.get("tags", [])}
    renamed: dict[str, dict[str, str]] = {}
    for service, spec in services.items():
        renames = renamed[service] = _merge_components(components, spec, service)
        for path, item in (spec.get("paths") or {}).items():
            public = API_PREFIX + path
            if routed(path) != service or public in doc["paths"]:
                continue
            item = _rewrite_refs(copy.deepcopy(item), renames)
            for method, op in item.items():
                if method not in _METHODS or not isinstance(op, dict):
                    continue
                op.setdefault("tags", [service])
                _add_gateway_errors(op)
                if op.get("operationId") in op_ids:
                    op["operationId"] = f"{service}_{op['operationId']}"
                op_ids.add(op.get("operationId"))
            doc["paths"][public] = item
        for tag in spec.get("tags", []):
            tags.setdefault(tag["name"], tag)
    if tags:
        doc["tags"] = list(tags.values())
    _type_overview(doc, services, renamed)
    return doc


# What the gateway itself may answer on any proxied route, whatever the service says: its rate limit,
# the service unreachable, not configured or its breaker open, no answer in time; 413 past the body limit.
_GATEWAY_ERRORS = {
    "429": "Too Many Requests: the caller's rate limit (Retry-After)",
    "503": "Service Unavailable: upstream_unavailable, service_not_configured or circuit_open (Retry-After)",
    "504": "Gateway Timeout: upstream_timeout",
}


def _add_gateway_errors(op: Document) -> None:
    extra = dict(_GATEWAY_ERRORS)
    if "requestBody" in op:
        extra["413"] = "Content Too Large: the body is over the gateway's limit"
    responses = op.setdefault("responses", {})
    for status, description in extra.items():
        responses.setdefault(
            status, {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}}
        )


def _response_schema(spec: Document, path: str) -> Document | None:
    """The 200 JSON schema of the service's GET on `path` (a Part's path: `{id}` for the one parameter,
    query left off), or None when the service's document has no such operation."""
    pattern = re.compile("^" + re.escape(path.split("?")[0]).replace(re.escape("{id}"), r"\{[^/]+\}") + "$")
    for candidate, item in (spec.get("paths") or {}).items():
        if pattern.match(candidate):
            ok = (item.get("get") or {}).get("responses", {}).get("200", {})
            schema: Document | None = (ok.get("content") or {}).get("application/json", {}).get("schema")
            return schema
    return None


def _resolve(doc: Document, schema: Document | None) -> Document | None:
    ref = (schema or {}).get("$ref")
    if not ref:
        return schema
    found: Document | None = doc["components"]["schemas"].get(ref.rsplit("/", 1)[1])
    return found


def _type_overview(doc: Document, services: dict[str, Document], renamed: dict[str, dict[str, str]]) -> None:
    """Each overview part gets the schema its owning service documents for what the part relays (the
    service's schemas are merged already, so refs resolve); a part whose service is not merged stays a
    plain object."""
    overview = doc.get("components", {}).get("schemas", {}).get("CustomerOverview")
    if overview is None:
        return
    for part in PARTS:
        if part.shape == "segments" or part.service not in services:
            continue
        schema = _response_schema(services[part.service], part.path)
        if schema is None:
            continue
        schema = _rewrite_refs(schema, renamed[part.service])
        if part.shape in ("items", "first_item"):
            items = ((_resolve(doc, schema) or {}).get("properties") or {}).get("items", {}).get("items")
            if items is None:
                continue
            schema = {"type": "array", "items": items} if part.shape == "items" else items
        described = overview["properties"][part.name]
        overview["properties"][part.name] = {
            "anyOf": [schema, {"type": "null"}],
            **{k: v for k, v in described.items() if k in ("title", "description")},
        }


class MergedOpenAPI:
    """Fetches the services' documents at most once per GATEWAY_OPENAPI_CACHE_SECONDS; one fetch at a
    time, whoever asks meanwhile waits for it."""

    def __init__(self, app: FastAPI):
        self.app = app
        self.document: Document | None = None
        self.built_at = 0.0
        self.lock = asyncio.Lock()

    async def get(self) -> Document:
        settings = self.app.state.settings
        if self.document is not None and time.monotonic() - self.built_at < settings.openapi_cache_seconds:
            return self.document
        async with self.lock:
            if self.document is None or time.monotonic() - self.built_at >= settings.openapi_cache_seconds:
                self.document = await self._build()
                self.built_at = time.monotonic()
        return self.document

    async def _fetch(self, service: str, base_url: str) -> tuple[str, Document | None]:
        client: UpstreamClient = self.app.state.upstream_client
        try:
            async with asyncio.timeout(self.app.state.settings.openapi_fetch_timeout_seconds):
                answer = await client.get(base_url, "/openapi.json")
            if answer.status_code == 200:
                body = answer.json()
                if isinstance(body, dict) and isinstance(body.get("paths"), dict):
                    return service, body
        except (TimeoutError, UpstreamError, ValueError):
            pass
        return service, None

    async def _build(self) -> Document:
        settings = self.app.state.settings
        found = await asyncio.gather(*(self._fetch(s, url) for s, url in settings.configured_services().items()))
        live = {service: spec for service, spec in found if spec is not None}
        table = self.app.state.route_table

        def routed(path: str) -> str | None:
            route = table.match(path)
            return route.service if route else None

        doc = merge(self.app.openapi(), live, routed)
        doc["info"]["x-services"] = {
            service: ("merged" if service in live else "unavailable") for service in settings.configured_services()
        }
        return doc


router = APIRouter(include_in_schema=False)


@router.get(OPENAPI_PATH)
async def merged_openapi(request: Request) -> JSONResponse:
    return JSONResponse(await request.app.state.merged_openapi.get())


router.include_router(docs_router(DOCS_PATH, OPENAPI_PATH, "Postal Savings CMS API"))
