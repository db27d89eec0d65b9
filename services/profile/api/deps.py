"""Profile's own dependencies (the personal-data settings, the customer path parameter, the
idempotency of creates under a customer) shared by its routers; the kit's aliases
(services.common.access, services.common.deps) cover the rest."""

import uuid
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel

from services.common.auth import Principal
from services.common.idempotency import IdempotencyRequest, idempotency_request
from services.profile.service.customers import Privacy


async def _privacy(request: Request) -> Privacy:
    privacy: Privacy = request.app.state.privacy
    return privacy


Priv = Annotated[Privacy, Depends(_privacy)]
CustomerId = Annotated[uuid.UUID, "customer id"]


def idempotency_for(
    key: str | None, principal: Principal, operation: str, path_id: uuid.UUID, body: BaseModel
) -> IdempotencyRequest | None:
    """The IdempotencyRequest for a create under a customer (None without a key)."""
    return idempotency_request(
        key, caller=principal.sub, operation=f"{operation}:{path_id}", body=body.model_dump(mode="json")
    )
