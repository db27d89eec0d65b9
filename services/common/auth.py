"""JWT verification (signature, audience, issuer, lifetime), the caller (Principal) with its role and,
for a system token, its scopes, and the customer-sees-only-itself rule."""

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.config import DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, BaseServiceSettings
from services.common.errors import NotFound, Unauthorized

Role = Literal["customer", "staff", "supervisor", "admin", "system"]
ROLES: tuple[str, ...] = ("customer", "staff", "supervisor", "admin", "system")
STAFF_ROLES = ("staff", "supervisor", "admin")
# What a system token may be allowed (its `scope` claim); every route that admits the system role names
# the one it needs (services.common.access). People's roles are not limited by scopes.
SCOPES: tuple[str, ...] = (
    "events:read",
    "customers:read",
    "customers:write",
    "transactions:read",
    "transactions:write",
    "segments:read",
    "loyalty:read",
    "points:award",
    "vouchers:use",
    "jobs:run",
    "deliveries:report",
    "contacts:deliver",
)
# What the suite's services ask of each other: their feed consumers read feeds, loyalty reads
# segmentation's class catalogue and, to send an SMS or an email, a customer's address from profile.
# A token signed with a service's own consumer key gets no more.
SERVICE_SCOPES = frozenset({"events:read", "segments:read", "contacts:deliver"})
_BINDING_CODES = {"aud": "token_audience", "iss": "token_issuer"}


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: str
    branch: str | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def is_customer(self) -> bool:
        return self.role == "customer"


class TokenVerifier:
    """HS256 with a shared secret in development; RS256 in production with the identity provider's
    public key and/or its JWKS (several keys, picked by the header's `kid`). Every token must carry
    the configured `aud` and `iss` (401 token_audience, token_issuer) and live no longer than the
    configured lifetime from `iat` (or from now without one; 401 token_lifetime_too_long).

    A client sends the same token on every call, so a token whose signature has been checked is
    remembered (bounded) with its expiry, which is still checked on every use."""

    CACHE_SIZE = 10_000

    def __init__(self, settings: BaseServiceSettings):
        self.algorithm = settings.jwt_algorithm
        rs256 = self.algorithm == "RS256"
        self.key = settings.jwt_public_key if rs256 else settings.jwt_secret
        self.service_keys = settings.service_keys() if rs256 else {}
        self.jwks = settings.jwks() if rs256 else {}
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.max_lifetime = settings.jwt_max_lifetime_seconds
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

    def _key(self, token: str) -> tuple[Any, str | None]:
        """The key that verifies `token`, and the kid when it is a service's own consumer key."""
        if not (self.service_keys or self.jwks):
            return self.key, None
        kid = jwt.get_unverified_header(token).get("kid")
        if isinstance(kid, str) and kid in self.service_keys:
            return self.service_keys[kid], kid
        if isinstance(kid, str) and kid in self.jwks:
            return self.jwks[kid], None
        if kid is not None and self.jwks:
            # a kid the key set does not hold: a key already rotated out, or someone else's
            raise jwt.InvalidTokenError("unknown kid")
        return self.key, None

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            key, service = self._key(token)
            if not key:
                raise jwt.InvalidTokenError("no key configured")
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                leeway=self.leeway,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub", "role", "exp", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired", code="token_expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("The token is meant for another audience", code="token_audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized(
                "The token comes from an issuer this suite does not trust", code="token_issuer"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            code = _BINDING_CODES.get(exc.claim, "token_invalid")
            raise Unauthorized(f"The token has no '{exc.claim}' claim", code=code) from None
        except jwt.InvalidTokenError:
            raise Unauthorized("The token is not valid", code="token_invalid") from None
        role = claims.get("role")
        if role not in ROLES or not isinstance(claims.get("sub"), str):
            raise Unauthorized("The token carries no known role", code="token_invalid")
        if service is not None and (role != "system" or claims["sub"] != service.split(".")[0]):
            # a service's key (kid "<service>-consumer" or "<service>-consumer.<version>") mints only
            # that service's own system tokens
            raise Unauthorized("The token is not valid", code="token_invalid")
        exp = float(claims["exp"])
        self._check_lifetime(exp, claims.get("iat"))
        scopes = _scopes(claims.get("scope")) if role == "system" else frozenset()
        if service is not None:
            scopes &= SERVICE_SCOPES
        return Principal(sub=claims["sub"], role=role, branch=claims.get("branch"), scopes=scopes), exp

    def _check_lifetime(self, exp: float, iat: object) -> None:
        # From iat both ends are the issuer's clock; from now (no iat), allow for clock skew.
        start, slack = (float(iat), 0) if isinstance(iat, int | float) else (time.time(), self.leeway)
        if exp - start > self.max_lifetime + slack:
            raise Unauthorized(
                f"The token lives longer than the {self.max_lifetime} s this suite allows",
                code="token_lifetime_too_long",
            )


def _scopes(claim: object) -> frozenset[str]:
    """The `scope` claim: space-separated (RFC 8693, OAuth) or a JSON list of strings."""
    if claim is None:
        return frozenset()
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list) and all(isinstance(item, str) for item in claim):
        return frozenset(claim)
    raise Unauthorized("The token's scope is neither a string nor a list of strings", code="token_invalid")


def mint_token(
    secret: str,
    *,
    sub: str,
    role: str,
    branch: str | None = None,
    scope: str | Iterable[str] | None = None,
    ttl_seconds: int = 3600,
    algorithm: str = "HS256",
    kid: str | None = None,
    audience: str = DEFAULT_JWT_AUDIENCE,
    issuer: str = DEFAULT_JWT_ISSUER,
) -> str:
    """Development and test tokens, and the services' own consumer tokens (with `kid`); people's
    tokens in production come from the bank's identity provider. `scope` is written space-separated."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role,
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if branch:
        claims["branch"] = branch
    if scope:
        claims["scope"] = scope if isinstance(scope, str) else " ".join(scope)
    return jwt.encode(claims, secret, algorithm=algorithm, headers={"kid": kid} if kid else None)


def mint_for(
    settings: BaseServiceSettings,
    *,
    sub: str,
    role: str,
    branch: str | None = None,
    scope: str | Iterable[str] | None = None,
    ttl_seconds: int = 3600,
) -> str:
    """An HS256 token that processes under `settings` accept: their secret, audience and issuer."""
    return mint_token(
        settings.jwt_secret,
        sub=sub,
        role=role,
        branch=branch,
        scope=scope,
        ttl_seconds=ttl_seconds,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header among raw ASGI headers, or None."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


bearer = HTTPBearer(
    auto_error=False,
    description="A JWT with sub, role (branch for staff, scope for system), aud, iss, exp (and iat)",
)
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
