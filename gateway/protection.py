"""Edge protections in pure ASGI: a limit on header size (431) and on a request's total time (504),
and security headers on every response."""

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.deadlines import Deadlines
from services.common.limits import send_problem

# An API answers JSON; nothing it returns is meant to run, be framed or leak a referrer.
API_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
# Swagger UI runs its own scripts and styles, all served from here (no CDN), plus one inline starter.
DOCS_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
DOCS_PREFIX = "/api/docs"
_OURS = frozenset(name for name, _ in API_SECURITY_HEADERS)


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    if not path.startswith(DOCS_PREFIX):
        return list(API_SECURITY_HEADERS)
    return [(n, DOCS_CSP if n == b"content-security-policy" else v) for n, v in API_SECURITY_HEADERS]


class EdgeMiddleware:
    """Inside the request-context middleware (so problems carry the request id), outside CORS and
    routing. The header check counts names, values and the request target."""

    def __init__(self, app: ASGIApp, *, max_header_bytes: int, request_timeout_seconds: float):
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.timeout = request_timeout_seconds
        self.deadlines = Deadlines(request_timeout_seconds)  # as asyncio.timeout, without a timer per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = security_headers(scope["path"])
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [(n, v) for n, v in message.get("headers", ()) if n not in _OURS] + ours
            await send(message)

        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        size += sum(len(n) + len(v) for n, v in scope["headers"])
        if size > self.max_header_bytes:
            await send_problem(
                send_secured, 431, "headers_too_large", f"The request's headers exceed {self.max_header_bytes} bytes"
            )
            return
        task = asyncio.current_task()
        assert task is not None  # an ASGI app runs inside its server's task
        cancelling = task.cancelling()
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        key = self.deadlines.start(expire)
        try:
            await self.app(scope, receive, send_secured)
        except asyncio.CancelledError:
            if not expired or task.uncancel() > cancelling:
                raise  # not ours, or cancelled for another reason as well (as asyncio.timeout does)
            if started:
                return  # the status is out: ending here makes the server close, the client sees a cut body
            await send_problem(send_secured, 504, "request_timeout", f"The request took longer than {self.timeout:g} s")
        finally:
            self.deadlines.stop(key)
