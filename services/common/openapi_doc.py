"""What every service's (and the gateway's) OpenAPI document promises client generators: short, stable
operation ids (the route function's name, `register_customer`), and errors documented only as they are
sent, `application/problem+json` with the Problem schema (FastAPI would list `application/json` too, and its own
422 as HTTPValidationError, which our handlers never send)."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.common.errors import PROBLEM_MEDIA_TYPE

Document = dict[str, Any]
PROBLEM_REF = "#/components/schemas/Problem"
_VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def operation_id(route: APIRoute) -> str:
    """`generate_unique_id_function` for FastAPI: the route function's name, unique within a service
    (checked when the document is built) and across the suite (tests/gateway)."""
    return route.name


def problems_only(doc: Document) -> Document:
    """Each error response (4xx, 5xx) keeps only its problem+json content; components no longer
    referenced (FastAPI's HTTPValidationError) are dropped."""
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if method not in METHODS:
                continue
            for status, response in op.get("responses", {}).items():
                content = response.get("content") or {}
                if str(status)[:1] in "45" and PROBLEM_MEDIA_TYPE in content:
                    response["content"] = {PROBLEM_MEDIA_TYPE: content[PROBLEM_MEDIA_TYPE]}
                elif _VALIDATION_ERROR in _refs(content, set()):  # FastAPI's own 422: we send a Problem
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
    _drop_unreferenced(doc)
    return doc


def _refs(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.add(v)
            else:
                _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)
    return found


def _drop_unreferenced(doc: Document) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    while True:
        used = _refs(doc.get("paths", {}), set()) | _refs(schemas, set())
        unused = [n for n in schemas if f"#/components/schemas/{n}" not in used]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def _duplicate_ids(doc: Document) -> list[str]:
    seen: set[str] = set()
    dup = []
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if method in METHODS and (oid := op.get("operationId")):
                if oid in seen:
                    dup.append(oid)
                seen.add(oid)
    return dup


def install_openapi(app: FastAPI) -> None:
    """Builds the app's document once, with problems only and its operation ids checked unique."""
    build: Callable[[], Document] = app.openapi

    def openapi() -> Document:
        if app.openapi_schema is None:
            doc = problems_only(build())
            if dup := _duplicate_ids(doc):
                raise RuntimeError(f"{app.title}: operation ids used twice: {', '.join(sorted(set(dup)))}")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
