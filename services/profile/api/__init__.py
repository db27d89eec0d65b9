"""Profile routes, one module per aggregate; handlers parse, authorise, call one service function and
return a schema. `routers` is what create_app includes. The hottest read (GET /v1/customers/{id})
is also answered in front of FastAPI by fast_read, through the same service read and presenter."""

from services.profile.api import (
    agreements,
    branches,
    consent,
    customers,
    interactions,
    managers,
    needs,
    rights,
    risk,
    transactions,
)

routers = [
    customers.approvals,  # before /v1/customers/{customer_id}
    customers.batch_router,
    customers.router,
    transactions.router,
    agreements.router,
    consent.router,
    risk.router,
    interactions.router,
    needs.router,
    managers.router,
    rights.router,
    branches.router,
]
