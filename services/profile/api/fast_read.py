"""GET /v1/customers/{id} answered in front of FastAPI (services.common.fastpath): the suite's
hottest read. The route in api/customers.py stays its definition (OpenAPI, every error); both read through
app.state.customer_by_id and answer with customer_response, so they cannot differ."""

import re
import uuid

from starlette.responses import Response
from starlette.types import Scope

from services.common.access import EVERYONE
from services.common.branch_scope import is_branch_bound
from services.common.fastpath import FastPath, bearer_principal
from services.profile.api.customers import customer_response

# The route's own rule (api/customers.py: read_customer takes EveryoneCustomersRead).
_RULE = EVERYONE.needing("customers:read")


class CustomerReadPath(FastPath):
    template = "/v1/customers/{customer_id}"
    # The canonical form only; any other spelling of an id goes to the route, which validates it.
    pattern = re.compile(r"/v1/customers/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

    async def answer(self, scope: Scope, match: re.Match[str]) -> Response | None:
        if scope.get("query_string"):
            return None  # a stated purpose (or anything else) is the route's: it writes the access log
        principal = bearer_principal(scope)
        if principal is None or not _RULE.permits(principal):
            return None
        customer_id = match.group(1)
        if principal.is_customer and principal.sub != customer_id:
            return None
        state = scope["app"].state
        customer = await state.customer_by_id(uuid.UUID(customer_id))
        if customer is None:
            return None
        if is_branch_bound(principal):
            # Answered here only when the cached tree shows the customer in the caller's subtree; a
            # stale tree or a customer out of reach goes to the route, which reloads and answers 404.
            tree = state.branch_scope.tree.cached()
            if tree is None or not principal.branch or not tree.within(principal.branch, customer.branch_code):
                return None
        return customer_response(customer, state.privacy)
