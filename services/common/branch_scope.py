"""Branch scope: staff and supervisors reach only the customers of their own branch's subtree (the
token's `branch` claim, the tree from services.common.branches); the head office's admin and system
callers reach every customer; a customer reaches only itself. A customer out of reach looks absent
(404, never 403), so ids cannot be probed. An app says how to find a customer's branch
(`app.state.branch_scope`); the access dependency (services.common.access) then checks every route
that names a `customer_id` (path or query) before the handler runs, and list handlers filter by
`Reach` (creates check it with services.common.branches.check_in_reach)."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy import ColumnElement, Table, false, true
from sqlalchemy.orm import Session
from starlette.requests import Request

from services.common.auth import Principal, current_principal
from services.common.branches import TreeCache
from services.common.db import Database
from services.common.errors import NotFound

# The roles a branch limits; admin is the head office's and sees every branch.
BRANCH_ROLES = frozenset({"staff", "supervisor"})
PARAMETER = "customer_id"


def customer_not_found(customer_id: Any) -> NotFound:
    return NotFound(f"No customer {customer_id}", code="customer_not_found")


@dataclass(frozen=True)
class BranchScope:
    """`customer_branch(session, customer_id)` is the customer's branch code in this service's own
    data (None when the service does not know the customer); `branches` is its copy of the tree."""

    db: Database
    branches: Table
    customer_branch: Callable[[Session, uuid.UUID], str | None]
    not_found: Callable[[Any], NotFound] = customer_not_found
    # The tree in memory (services.common.branches.TreeCache): a check costs the customer's lookup only.
    tree: TreeCache = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tree", TreeCache(self.branches))

    def within(self, branch: str | None, customer_id: uuid.UUID) -> bool:
        """Is the customer's branch `branch` or below it?"""
        if not branch:
            return False
        with self.db.read() as s:
            code = self.customer_branch(s, customer_id)
            return code is not None and self.tree.get(s, branch, code).within(branch, code)

    def subtree(self, branch: str | None) -> set[str]:
        if not branch:
            return set()
        with self.db.read() as s:
            return self.tree.get(s, branch).subtree(branch)


def names_customer(route: APIRoute) -> bool:
    """Does the route name a customer (`customer_id` in its path or query), so its access dependency
    checks that customer's reach?"""
    params = [*route.dependant.path_params, *route.dependant.query_params]
    return any(p.name == PARAMETER for p in params)


def is_branch_bound(principal: Principal) -> bool:
    return principal.role in BRANCH_ROLES


async def _reach(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> set[str] | None:
    # An app whose routes naming a customer are not (yet) checked by branch may still scope its lists:
    # `app.state.branch_tree` is a BranchScope used for `Reach` only.
    state = request.app.state
    scope: BranchScope | None = getattr(state, "branch_scope", None) or getattr(state, "branch_tree", None)
    if scope is None or not is_branch_bound(principal):
        return None
    return await run_in_threadpool(scope.subtree, principal.branch)


# The branch codes a list, a count or a create may touch for the caller: None for every branch (admin,
# system, a customer, whose own handlers limit it), else the caller's branch subtree (empty without one).
Reach = Annotated[set[str] | None, Depends(_reach)]


async def check_customer_reach(request: Request, principal: Principal) -> None:
    """404 when the customer a route names (`customer_id` in its path, or in its query) is out of
    `principal`'s reach, in an app with a branch scope. A malformed id is left to the route's own
    validation (422)."""
    raw = request.path_params.get(PARAMETER) or request.query_params.get(PARAMETER)
    if raw is None:
        return
    try:
        customer_id = uuid.UUID(str(raw))
    except ValueError:
        return
    scope: BranchScope | None = getattr(request.app.state, "branch_scope", None)
    if scope is None:
        return  # not scoped by branch yet: the handlers' own ensure_own_customer keeps customers apart
    if principal.is_customer and principal.sub != str(customer_id):
        raise scope.not_found(customer_id)
    if is_branch_bound(principal) and not await run_in_threadpool(scope.within, principal.branch, customer_id):
        raise scope.not_found(customer_id)


def ensure_customer_in_reach(request: Request, principal: Principal, customer_id: uuid.UUID) -> None:
    """For a customer a request names in its body (an enrolment, a redemption, a registration): 404
    when it is out of a staff member's branch subtree, as the access dependency does for one named in
    the path or query. Called from a (sync) handler, so it runs in the handler's worker thread."""
    scope: BranchScope | None = getattr(request.app.state, "branch_scope", None)
    if scope is None or not is_branch_bound(principal):
        return
    if not scope.within(principal.branch, customer_id):
        raise scope.not_found(customer_id)


def in_reach(column: Any, reach: set[str] | None) -> ColumnElement[bool]:
    """The SQL condition that keeps a list, a count or an analysis to `reach` (a `Reach` value): every
    row for None, else rows whose branch `column` is in the subtree; none for an empty subtree, and
    none without a branch (such rows are the head office's)."""
    if reach is None:
        return true()
    return column.in_(sorted(reach)) if reach else false()
