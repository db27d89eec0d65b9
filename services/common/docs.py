"""Swagger UI served with its own assets (swagger-ui-py ships Swagger UI 5, which renders OpenAPI
3.1), so every service's /docs and the gateway's /api/docs work with no CDN reachable."""

import importlib.util
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from services.common.errors import NotFound

ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon-32x32.png": "image/png"}


def swagger_assets() -> Path:
    """swagger-ui-py's static folder, found without importing the package: its import brings in
    template engines and web-framework adapters that a serving process would keep for nothing."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def docs_router(docs_path: str, openapi_path: str, title: str) -> APIRouter:
    """`docs_path` (the page), `docs_path`/oauth2-redirect and `docs_path`/assets/{name}, over the
    OpenAPI document at `openapi_path`; none of them needs a token or appears in the OpenAPI."""
    router = APIRouter(include_in_schema=False)
    assets = f"{docs_path}/assets"

    @router.get(docs_path)
    async def swagger_ui_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_path,
            title=title,
            oauth2_redirect_url=f"{docs_path}/oauth2-redirect",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    @router.get(f"{docs_path}/oauth2-redirect")
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get(assets + "/{name}")
    async def swagger_asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise NotFound("No such file", code="route_not_found")
        return FileResponse(
            swagger_assets() / name, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
        )

    return router
