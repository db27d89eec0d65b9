"""The access catalogue: every role set a route may admit, each named once with one meaning, and the
rule a route declares. A rule is a value (roles plus a scope), so tests can list every route's rule
and later rules (branch scoping) extend it without touching the routes."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.routing import APIRoute

from services.common.auth import ROLES, STAFF_ROLES, Principal, current_principal
from services.common.errors import Forbidden


@dataclass(frozen=True, slots=True)
class AccessRule:
    """`roles` may call the route; `scope` names what limits them further ("none": the handler's own
    checks, such as a customer reaching only itself)."""

    name: str
    roles: frozenset[str]
    scope: str = "none"

    def admits(self, role: str) -> bool:
        return role in self.roles


def _rule(name: str, *roles: str) -> AccessRule:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return AccessRule(name, frozenset(roles))


EVERYONE = _rule("everyone", *ROLES)
CUSTOMER_OR_STAFF = _rule("customer_or_staff", "customer", *STAFF_ROLES)
CUSTOMER_OR_SUPERVISOR = _rule("customer_or_supervisor", "customer", "supervisor", "admin")
STAFF = _rule("staff", *STAFF_ROLES)
STAFF_OR_SYSTEM = _rule("staff_or_system", *STAFF_ROLES, "system")
SUPERVISOR = _rule("supervisor", "supervisor", "admin")
SUPERVISOR_OR_SYSTEM = _rule("supervisor_or_system", "supervisor", "admin", "system")
SYSTEM_OR_ADMIN = _rule("system_or_admin", "system", "admin")
CATALOGUE: tuple[AccessRule, ...] = (
    EVERYONE,
    CUSTOMER_OR_STAFF,
    CUSTOMER_OR_SUPERVISOR,
    STAFF,
    STAFF_OR_SYSTEM,
    SUPERVISOR,
    SUPERVISOR_OR_SYSTEM,
    SYSTEM_OR_ADMIN,
)

# Paths every app serves without a token (probes, scrapes and its own documentation).
PUBLIC_PATHS = frozenset(
    {
        "/health/live",
        "/health/ready",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/docs/assets/{name}",
    }
)


def allow(rule: AccessRule) -> Callable[[Principal], Awaitable[Principal]]:
    """The dependency that admits `rule`'s roles: 401 without a valid token, 403 for another role.
    It carries the rule, so `route_rules` can read it back from a route."""

    async def _dep(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not rule.admits(principal.role):
            raise Forbidden(f"The role '{principal.role}' may not do this", code="role_forbidden")
        return principal

    _dep.access_rule = rule  # type: ignore[attr-defined]  # a function takes attributes; typing cannot say so
    return _dep


_DEPENDENCIES = {rule: allow(rule) for rule in CATALOGUE}


def dependency(rule: AccessRule) -> Callable[[Principal], Awaitable[Principal]]:
    """The one dependency object per catalogue rule (FastAPI then resolves it once per request)."""
    return _DEPENDENCIES.get(rule) or allow(rule)


# The aliases handlers annotate their caller with; the only ones any service uses.
Everyone = Annotated[Principal, Depends(dependency(EVERYONE))]
CustomerOrStaff = Annotated[Principal, Depends(dependency(CUSTOMER_OR_STAFF))]
CustomerOrSupervisor = Annotated[Principal, Depends(dependency(CUSTOMER_OR_SUPERVISOR))]
Staff = Annotated[Principal, Depends(dependency(STAFF))]
StaffOrSystem = Annotated[Principal, Depends(dependency(STAFF_OR_SYSTEM))]
Supervisor = Annotated[Principal, Depends(dependency(SUPERVISOR))]
SupervisorOrSystem = Annotated[Principal, Depends(dependency(SUPERVISOR_OR_SYSTEM))]
SystemOrAdmin = Annotated[Principal, Depends(dependency(SYSTEM_OR_ADMIN))]


def route_rules(route: APIRoute) -> list[AccessRule]:
    """Every access rule a route's dependencies declare (its own, its router's and its app's)."""
    found: list[AccessRule] = []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        rule = getattr(dep.call, "access_rule", None)
        if isinstance(rule, AccessRule):
            found.append(rule)
        stack.extend(dep.dependencies)
    return found
