"""Loyalty routes, one module per aggregate; handlers parse, authorise, call one service function and
return a schema. `routers` is what create_app includes."""

from services.loyalty.api import (
    accounts,
    approvals,
    campaigns,
    care,
    events,
    inbox,
    operations,
    personal_data,
    rewards,
    rules,
)

routers = [
    accounts.router,
    approvals.router,
    rules.router,
    rewards.router,
    events.router,
    operations.router,
    personal_data.router,
    inbox.router,
    care.router,
    campaigns.router,
]
