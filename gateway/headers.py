"""Which headers cross the gateway: hop-by-hop ones stop here, X-Forwarded-* and X-Request-ID are set
here, and a service's own paths in Location headers become the gateway's."""

from starlette.types import Scope

from gateway.routes import API_PREFIX

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set here instead: Host from the upstream URL, Content-Length from the buffered body, the rest below.
_REQUEST_REPLACED = frozenset(
    {
        b"host",
        b"content-length",
        b"expect",
        b"x-request-id",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    }
)
# uvicorn writes its own Date and Server, and the request-id middleware adds X-Request-ID.
_RESPONSE_REPLACED = frozenset({b"date", b"server", b"x-request-id"})
_LOCATIONS = frozenset({b"location", b"content-location"})
_REQUEST_DROPPED = HOP_BY_HOP | _REQUEST_REPLACED
_RESPONSE_DROPPED = HOP_BY_HOP | _RESPONSE_REPLACED
_API = API_PREFIX.encode()


def _connection_listed(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    # Headers named in Connection are hop-by-hop too (RFC 9110 7.6.1).
    return {
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def forwarded_headers(scope: Scope, request_id: str) -> list[tuple[bytes, bytes]]:
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    listed = _connection_listed(raw) if any(name == b"connection" for name, _ in raw) else None
    drop = _REQUEST_DROPPED | listed if listed else _REQUEST_DROPPED
    headers = [(name, value) for name, value in raw if name not in drop]
    chain = [value for name, value in raw if name == b"x-forwarded-for"]
    if scope.get("client"):
        chain.append(scope["client"][0].encode("latin-1"))
    if chain:
        headers.append((b"x-forwarded-for", b", ".join(chain)))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
    host = next((value for name, value in raw if name == b"host"), None)
    if host:
        headers.append((b"x-forwarded-host", host))
    headers.append((b"x-request-id", request_id.encode("latin-1")))
    return headers


def relayed_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`raw`: an upstream answer's headers with lower-cased names (as gateway.h1pool gives them)."""
    listed = _connection_listed(raw) if any(name == b"connection" for name, _ in raw) else None
    drop = _RESPONSE_DROPPED | listed if listed else _RESPONSE_DROPPED
    return [(name, _public_location(value) if name in _LOCATIONS else value) for name, value in raw if name not in drop]


def _public_location(value: bytes) -> bytes:
    # A service names its own path (/v1/customers/7); callers reach it under the gateway's /api.
    return _API + value if value.startswith(b"/v1/") else value
