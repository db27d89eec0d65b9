"""The gateway documents its own routes at /api/openapi.json with Swagger UI at /api/docs, and the
app factory works with no arguments (the Procfile's `--factory gateway.app:create_app`)."""

import ast
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.app import create_app

GATEWAY = Path(__file__).parents[2] / "gateway"


def test_openapi_lists_gateway_routes_with_problems(gateway):
    spec = gateway().get("/api/openapi.json").json()
    assert {"/health", "/health/live", "/health/ready", "/api/v1/customers/{customer_id}/overview"} <= set(
        spec["paths"]
    )
    # The catch-all would shadow every service's paths in a generated client; the services' own are merged.
    assert "/api/v1/{path}" not in spec["paths"]
    overview = spec["paths"]["/api/v1/customers/{customer_id}/overview"]["get"]
    assert {"401", "404", "422", "429"} <= set(overview["responses"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert "/metrics" not in spec["paths"]
    assert "| `/api/v1/complaints` | feedback |" in spec["info"]["description"]


def test_swagger_ui_served_from_api_docs_with_local_assets(gateway):
    client = gateway()
    r = client.get("/api/docs")
    assert r.status_code == 200
    assert "/api/openapi.json" in r.text
    assert "cdn." not in r.text  # browsers behind a bank's proxy, and this machine, reach no CDN
    for asset, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
        assert f"/api/docs/assets/{asset}" in r.text
        got = client.get(f"/api/docs/assets/{asset}")
        assert got.status_code == 200 and kind in got.headers["content-type"]
    assert client.get("/api/docs/assets/LICENSE").status_code == 404
    assert client.get("/api/docs/assets/..%2f..%2f__init__.py").status_code == 404
    assert client.get("/api/docs/oauth2-redirect").status_code == 200
    assert client.get("/openapi.json").status_code == 404


def test_create_app_without_arguments_reads_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_PROFILE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("GATEWAY_LOG_LEVEL", "WARNING")
    with TestClient(create_app()) as client:
        assert client.get("/health/live").json() == {"status": "ok"}
        assert client.app.state.settings.profile_url == "http://127.0.0.1:1"


def test_gateway_imports_no_service():
    for module in GATEWAY.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                if name.startswith("services"):
                    assert name == "services.common" or name.startswith("services.common."), (module, name)
