"""RFC 9457 problem+json: the error classes services raise, and the one handler set that renders
every failure (ours, FastAPI's validation errors, routing errors, the unexpected) without internals."""

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from services.common.context import current_request_id
from services.common.storage import RETRY_AFTER_SECONDS, STORAGE_ERRORS, describe

log = logging.getLogger("problem")
PROBLEM_TYPE_BASE = "https://errors.postal-savings.example/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document with a stable machine `code`."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.headers = headers or {}
        self.extra = extra


class InvalidInput(ProblemError):
    """422 raised by a service for a rule a request schema cannot express; `errors` names the fields."""

    status = 422
    code = "validation_failed"

    def __init__(self, errors: list[dict[str, Any]], detail: str | None = None, **kw: Any):
        super().__init__(detail or _summarise(errors), **kw)
        self.extra["errors"] = errors


class BadRequest(ProblemError):
    status = 400
    code = "bad_request"


class Unauthorized(ProblemError):
    status = 401
    code = "unauthorized"

    def __init__(self, detail: str, **kw: Any):
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="postal-savings"'})
        super().__init__(detail, **kw)


class Forbidden(ProblemError):
    status = 403
    code = "forbidden"


class NotFound(ProblemError):
    status = 404
    code = "not_found"


class Conflict(ProblemError):
    status = 409
    code = "conflict"


class PreconditionFailed(ProblemError):
    status = 412
    code = "version_stale"


class PreconditionRequired(ProblemError):
    status = 428
    code = "version_required"


class UpstreamUnavailable(ProblemError):
    status = 503
    code = "upstream_unavailable"


class UpstreamTimeout(ProblemError):
    status = 504
    code = "upstream_timeout"


def _summarise(errors: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in errors[:5]]
    return "Invalid input: " + "; ".join(parts)


def problem_body(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": current_request_id(),
    }
    body.update(extra)
    return body


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, **extra), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _clean_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # Never echo the submitted value back: it may be an ID number or a phone.
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid"), "type": e.get("type", "invalid")}
        for e in errors
    ]


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "route_not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_req: Request, err: ProblemError) -> Response:
        return problem_response(err.status, err.code, err.detail, err.headers, **err.extra)

    async def _storage(req: Request, err: Exception) -> Response:
        db = getattr(req.app.state, "db", None)
        if db is not None:
            db.write_health.failed(err)
        log.warning("storage unavailable", extra={"fields": {"reason": describe(err)}})
        return problem_response(
            503,
            "storage_unavailable",
            "The database cannot take this request now; nothing was written. Try again shortly.",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for error_class in STORAGE_ERRORS:
        app.add_exception_handler(error_class, _storage)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, err: RequestValidationError) -> Response:
        errors = _clean_validation_errors(err.errors())
        return problem_response(422, "validation_failed", _summarise(errors), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, err: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(err.status_code, "http_error")
        detail = err.detail if isinstance(err.detail, str) else HTTPStatus(err.status_code).phrase
        headers = dict(err.headers or {})
        if err.status_code == 400 and "parsing the body" in detail:
            # FastAPI's word for a body that is not UTF-8 JSON: a validation failure like any other.
            errors = [{"loc": ["body"], "msg": "the body is not valid UTF-8 JSON", "type": "json_invalid"}]
            return problem_response(422, "validation_failed", _summarise(errors), errors=errors)
        if err.status_code == 404 and detail == "Not Found":
            detail = "No such route"
        if err.status_code == 405:
            headers["Allow"] = _allowed_methods(req)
            detail = f"This resource allows {headers['Allow']}"
        return problem_response(err.status_code, code, detail, headers)

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, err: Exception) -> Response:
        # Runs outside the request-context middleware (Starlette's outermost layer), so the request
        # id comes from the scope state that middleware left behind.
        request_id = getattr(req.state, "request_id", None)
        log.error("unexpected error", exc_info=(type(err), err, err.__traceback__), extra={"request_id": request_id})
        return problem_response(
            500,
            "internal_error",
            "An unexpected error occurred; quote the request_id.",
            {"X-Request-ID": request_id} if request_id else None,
            request_id=request_id,
        )


def _allowed_methods(req: Request) -> str:
    """Starlette names only the first route that matched the path; a client needs all of them."""
    allowed = [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(route.matches({**req.scope, "method": method})[0] == Match.FULL for route in req.app.router.routes)
    ]
    return ", ".join(allowed)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented as problem+json."""
    return {
        s: {
            "model": Problem,
            "description": HTTPStatus(s).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }
