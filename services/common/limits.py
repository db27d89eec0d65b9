"""Each service's own limits, not only the gateway's (defence in depth: a service may be reached
directly): a request body over `<SERVICE>_MAX_BODY_BYTES` (1 MiB) is 413 `payload_too_large`, refused
from its Content-Length before it is read or, for a body streamed without one, as soon as it passes the
limit; a request not answered within `<SERVICE>_REQUEST_TIMEOUT_SECONDS` (60, above a feed's longest
long poll of 30 s) is 504 `request_timeout`. Both are problem+json. Pure ASGI, inside the request-context
middleware, so the answers carry the request id."""

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import PROBLEM_MEDIA_TYPE, problem_body


def problem_message(
    status: int, code: str, detail: str, extra_headers: Iterable[tuple[bytes, bytes]] = (), **extra: Any
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A problem+json answer's headers and body, for whoever writes it without a Response."""
    body = json.dumps(problem_body(status, code, detail, **extra)).encode()
    headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    return [*headers, *extra_headers], body


async def send_problem(
    send: Send, status: int, code: str, detail: str, extra_headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """A problem+json answer sent straight through ASGI (by middleware that answers for the app)."""
    headers, body = problem_message(status, code, detail, extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class ServiceLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, request_timeout_seconds: float):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout = request_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"The body is over this service's limit of {self.max_body_bytes} bytes"
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            await send_problem(send, 413, "payload_too_large", too_large)
            return
        answered = False  # once we (or the app) started the response, the app's later messages are dropped
        received = 0

        async def limited_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not answered:
                    answered = True
                    await send_problem(send, 413, "payload_too_large", too_large)
                    return {"type": "http.disconnect"}  # the app stops reading; what it answers is dropped
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                if answered:
                    return
                answered = True
            elif received > self.max_body_bytes:
                return
            await send(message)

        try:
            async with asyncio.timeout(self.timeout):
                await self.app(scope, limited_receive, guarded_send)
        except TimeoutError:
            if not answered:
                answered = True
                await send_problem(send, 504, "request_timeout", f"No answer within {self.timeout:g} s")
