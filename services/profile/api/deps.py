"""Profile's own dependencies (the personal-data settings, the customer path parameter, the
idempotency of creates under a customer) shared by its routers; the kit's aliases
(services.common.access, services.common.deps) cover the rest."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel

from services.common.auth import Principal
from services.common.idempotency import IdempotencyRequest, idempotency_request
from services.profile.service.customers import Privacy
from services.profile.service.dual_control import reveal_gate


async def _privacy(request: Request) -> Privacy:
    privacy: Privacy = request.app.state.privacy
    return privacy


Priv = Annotated[Privacy, Depends(_privacy)]


async def _reveal_gate(request: Request) -> Any:
    """Dual control of reveals beyond the daily count, at this request's time."""
    settings = request.app.state.settings
    return reveal_gate(
        request.app.state.approvals,
        daily_limit=settings.reveal_daily_limit,
        zone=settings.jobs_zone,
        now=request.app.state.clock(),
    )


RevealGate = Annotated[Any, Depends(_reveal_gate)]
CustomerId = Annotated[uuid.UUID, "customer id"]


def idempotency_for(
    key: str | None, principal: Principal, operation: str, path_id: uuid.UUID, body: BaseModel
) -> IdempotencyRequest | None:
    """The IdempotencyRequest for a create under a customer (None without a key)."""
    return idempotency_request(
        key, caller=principal.sub, operation=f"{operation}:{path_id}", body=body.model_dump(mode="json")
    )
