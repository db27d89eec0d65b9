"""The access catalogue: every role set a route may admit, each named once with one meaning, and the
rule a route declares. A rule is a value (roles plus, where the system role is admitted, the scope a
system token needs), so tests can list every route's rule and later rules extend it without touching
the routes."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from services.common.auth import ROLES, SCOPES, STAFF_ROLES, Principal, current_principal
from services.common.branch_scope import check_customer_reach
from services.common.errors import Forbidden


@dataclass(frozen=True, slots=True)
class AccessRule:
    """`roles` may call the route; a system caller's token must also carry `scope` (a rule that
    admits the system role names one, `needing`). A customer reaching only itself stays the
    handler's check."""

    name: str
    roles: frozenset[str]
    scope: str | None = None

    def needing(self, scope: str) -> "AccessRule":
        """This role set, with `scope` required of a system caller."""
        if scope not in SCOPES or "system" not in self.roles:
            raise ValueError(f"{self.name} cannot need scope {scope!r}")
        return replace(self, scope=scope)

    def admits(self, role: str) -> bool:
        """Is `role` one of the rule's roles (a system caller also needs the scope: `permits`)?"""
        return role in self.roles

    def permits(self, principal: Principal) -> bool:
        return self.refusal(principal) is None

    def refusal(self, principal: Principal) -> Forbidden | None:
        """Why `principal` may not call the route (403 role_forbidden or insufficient_scope), or None."""
        if principal.role not in self.roles:
            return Forbidden(f"The role '{principal.role}' may not do this", code="role_forbidden")
        if principal.role == "system" and self.scope not in principal.scopes:
            return Forbidden(
                f"The token lacks the scope '{self.scope}' this needs",
                code="insufficient_scope",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{self.scope}"'},
                scope=self.scope,
            )
        return None


def _rule(name: str, *roles: str) -> AccessRule:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return AccessRule(name, frozenset(roles))


EVERYONE = _rule("everyone", *ROLES)
CUSTOMER = _rule("customer", "customer")
CUSTOMER_OR_STAFF = _rule("customer_or_staff", "customer", *STAFF_ROLES)
CUSTOMER_OR_SUPERVISOR = _rule("customer_or_supervisor", "customer", "supervisor", "admin")
STAFF = _rule("staff", *STAFF_ROLES)
STAFF_OR_SYSTEM = _rule("staff_or_system", *STAFF_ROLES, "system")
SUPERVISOR = _rule("supervisor", "supervisor", "admin")
SUPERVISOR_OR_SYSTEM = _rule("supervisor_or_system", "supervisor", "admin", "system")
SYSTEM_OR_ADMIN = _rule("system_or_admin", "system", "admin")
ADMIN = _rule("admin", "admin")
CATALOGUE: tuple[AccessRule, ...] = (
    EVERYONE,
    CUSTOMER,
    CUSTOMER_OR_STAFF,
    CUSTOMER_OR_SUPERVISOR,
    STAFF,
    STAFF_OR_SYSTEM,
    SUPERVISOR,
    SUPERVISOR_OR_SYSTEM,
    SYSTEM_OR_ADMIN,
    ADMIN,
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


def allow(rule: AccessRule) -> Callable[..., Awaitable[Principal]]:
    """The dependency that admits `rule`'s roles: 401 without a valid token, 403 for another role or
    a system token without the rule's scope; then, for a route that names a customer (`customer_id` in
    its path or query), 404 when that customer is out of the caller's reach (services.common.branch_scope:
    another customer, or one outside a staff member's branch subtree). Every route takes one of these,
    so no route that names a customer escapes the check. It carries the rule, so `route_rules` can
    read it back from a route."""

    async def _dep(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        refused = rule.refusal(principal)
        if refused is not None:
            raise refused
        await check_customer_reach(request, principal)
        return principal

    _dep.access_rule = rule  # type: ignore[attr-defined]  # a function takes attributes; typing cannot say so
    return _dep


_DEPENDENCIES: dict[AccessRule, Callable[..., Awaitable[Principal]]] = {}


def dependency(rule: AccessRule) -> Callable[..., Awaitable[Principal]]:
    """The one dependency object per rule (FastAPI then resolves it once per request)."""
    if rule not in _DEPENDENCIES:
        _DEPENDENCIES[rule] = allow(rule)
    return _DEPENDENCIES[rule]


# The aliases handlers annotate their caller with; the only ones any service uses. A role set that
# admits the system role has an alias per scope its routes need, named by both.
CustomerOnly = Annotated[Principal, Depends(dependency(CUSTOMER))]  # a customer's own things (its inbox)
CustomerOrStaff = Annotated[Principal, Depends(dependency(CUSTOMER_OR_STAFF))]
CustomerOrSupervisor = Annotated[Principal, Depends(dependency(CUSTOMER_OR_SUPERVISOR))]
Staff = Annotated[Principal, Depends(dependency(STAFF))]
Supervisor = Annotated[Principal, Depends(dependency(SUPERVISOR))]
Admin = Annotated[Principal, Depends(dependency(ADMIN))]
EveryoneCustomersRead = Annotated[Principal, Depends(dependency(EVERYONE.needing("customers:read")))]
EveryoneTransactionsRead = Annotated[Principal, Depends(dependency(EVERYONE.needing("transactions:read")))]
EveryoneLoyaltyRead = Annotated[Principal, Depends(dependency(EVERYONE.needing("loyalty:read")))]
StaffOrSystemCustomersRead = Annotated[Principal, Depends(dependency(STAFF_OR_SYSTEM.needing("customers:read")))]
StaffOrSystemSegmentsRead = Annotated[Principal, Depends(dependency(STAFF_OR_SYSTEM.needing("segments:read")))]
StaffOrSystemLoyaltyRead = Annotated[Principal, Depends(dependency(STAFF_OR_SYSTEM.needing("loyalty:read")))]
StaffOrSystemPointsAward = Annotated[Principal, Depends(dependency(STAFF_OR_SYSTEM.needing("points:award")))]
StaffOrSystemVouchersUse = Annotated[Principal, Depends(dependency(STAFF_OR_SYSTEM.needing("vouchers:use")))]
SupervisorOrSystemJobsRun = Annotated[Principal, Depends(dependency(SUPERVISOR_OR_SYSTEM.needing("jobs:run")))]
SystemOrAdminJobsRun = Annotated[Principal, Depends(dependency(SYSTEM_OR_ADMIN.needing("jobs:run")))]
SystemOrAdminEventsRead = Annotated[Principal, Depends(dependency(SYSTEM_OR_ADMIN.needing("events:read")))]
SystemOrAdminCustomersWrite = Annotated[Principal, Depends(dependency(SYSTEM_OR_ADMIN.needing("customers:write")))]
SystemOrAdminDeliveriesReport = Annotated[Principal, Depends(dependency(SYSTEM_OR_ADMIN.needing("deliveries:report")))]
SystemOrAdminContactsDeliver = Annotated[Principal, Depends(dependency(SYSTEM_OR_ADMIN.needing("contacts:deliver")))]
SystemOrAdminTransactionsWrite = Annotated[
    Principal, Depends(dependency(SYSTEM_OR_ADMIN.needing("transactions:write")))
]


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


def in_catalogue(rule: AccessRule) -> bool:
    """Is `rule` one of the catalogue's role sets (with whatever scope it needs)?"""
    return replace(rule, scope=None) in CATALOGUE
