"""JWT verification, the caller (Principal), role checks and the customer-sees-only-itself rule."""

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.config import BaseServiceSettings
from services.common.errors import NotFound, Unauthorized

Role = Literal["customer", "staff", "supervisor", "admin", "system"]
ROLES: tuple[str, ...] = ("customer", "staff", "supervisor", "admin", "system")
STAFF_ROLES = ("staff", "supervisor", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: str
    branch: str | None = None

    @property
    def is_customer(self) -> bool:
        return self.role == "customer"


class TokenVerifier:
    """HS256 with a shared secret in development; RS256 with a public key in production.

    A client sends the same token on every call, so a token whose signature has been checked is
    remembered (bounded) with its expiry, which is still checked on every use."""

    CACHE_SIZE = 10_000

    def __init__(self, settings: BaseServiceSettings):
        self.algorithm = settings.jwt_algorithm
        self.key = settings.jwt_public_key if self.algorithm == "RS256" else settings.jwt_secret
        self.service_keys = settings.service_keys() if self.algorithm == "RS256" else {}
        self.leeway = settings.jwt_leeway_seconds
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None:
            principal, exp = hit
            if time.time() <= exp + self.leeway:
                return principal
            self._verified.pop(token, None)
            raise Unauthorized("The token has expired", code="token_expired")
        principal, exp = self._decode(token)
        self._verified[token] = (principal, exp)
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        key, service = self.key, None
        try:
            kid = jwt.get_unverified_header(token).get("kid") if self.service_keys else None
            if isinstance(kid, str) and kid in self.service_keys:
                key, service = self.service_keys[kid], kid
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                leeway=self.leeway,
                options={"require": ["sub", "role", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired", code="token_expired") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("The token is not valid", code="token_invalid") from None
        role = claims.get("role")
        if role not in ROLES or not isinstance(claims.get("sub"), str):
            raise Unauthorized("The token carries no known role", code="token_invalid")
        if service is not None and (role != "system" or claims["sub"] != service.split(".")[0]):
            # a service's key (kid "<service>-consumer" or "<service>-consumer.<version>") mints only
            # that service's own system tokens
            raise Unauthorized("The token is not valid", code="token_invalid")
        return Principal(sub=claims["sub"], role=role, branch=claims.get("branch")), float(claims["exp"])


def mint_token(
    secret: str,
    *,
    sub: str,
    role: str,
    branch: str | None = None,
    ttl_seconds: int = 3600,
    algorithm: str = "HS256",
    kid: str | None = None,
) -> str:
    """Development and test tokens, and the services' own consumer tokens (with `kid`); people's
    tokens in production come from the bank's identity provider."""
    now = int(time.time())
    claims = {"sub": sub, "role": role, "iat": now, "exp": now + ttl_seconds}
    if branch:
        claims["branch"] = branch
    return jwt.encode(claims, secret, algorithm=algorithm, headers={"kid": kid} if kid else None)


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header among raw ASGI headers, or None."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


bearer = HTTPBearer(auto_error=False, description="A JWT with sub, role (and branch for staff), exp")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def principal_from(request: Request, creds: HTTPAuthorizationCredentials | None) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise Unauthorized("A bearer token is required", code="token_missing")
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.verify(creds.credentials)


# Dependencies are `async def` on purpose: they do microseconds of CPU and no I/O, and a sync
# dependency costs a thread-pool hop on every request (docs/architecture.md).
async def current_principal(request: Request, creds: Credentials) -> Principal:
    return principal_from(request, creds)


def ensure_own_customer(principal: Principal, customer_id: str, not_found: NotFound) -> None:
    """A customer token reaches only its own customer; another customer's record looks absent (404)."""
    if principal.is_customer and principal.sub != str(customer_id):
        raise not_found
