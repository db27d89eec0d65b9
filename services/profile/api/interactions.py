"""Routes for the interaction log (staff only)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from services.common.access import Staff
from services.common.deps import Cursor, Db, IdemKey, Limit, Now, replay
from services.common.errors import problem_responses
from services.common.idempotency import StoredResponse
from services.profile.api.deps import CustomerId, Priv, idempotency_for
from services.profile.schemas.interactions import (
    InteractionChannel,
    InteractionCreate,
    InteractionPage,
    InteractionRead,
)
from services.profile.service import interactions as svc

router = APIRouter(prefix="/v1/customers/{customer_id}/interactions", tags=["interaction log"])
From = Annotated[AwareDatetime | None, Query(alias="from", description="inclusive, RFC 3339")]
To = Annotated[AwareDatetime | None, Query(alias="to", description="exclusive, RFC 3339")]


@router.post(
    "",
    status_code=201,
    response_model=InteractionRead,
    summary="Record a contact with the customer (staff id from the token)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def record_interaction(
    customer_id: CustomerId,
    body: InteractionCreate,
    principal: Staff,
    db: Db,
    now: Now,
    privacy: Priv,
    response: Response,
    idempotency_key: IdemKey = None,
):
    idem = idempotency_for(idempotency_key, principal, "record_interaction", customer_id, body)
    i = svc.record_interaction(
        db, customer_id=customer_id, interaction_in=body, actor=principal, now=now, vault=privacy.vault, idem=idem
    )
    if isinstance(i, StoredResponse):
        return replay(i)
    response.headers["Location"] = f"/v1/customers/{customer_id}/interactions"
    return i


@router.get(
    "",
    response_model=InteractionPage,
    summary="The customer's interactions, newest first",
    responses=problem_responses(401, 403, 404, 422),
)
def list_interactions(
    customer_id: CustomerId,
    _p: Staff,
    db: Db,
    privacy: Priv,
    channel: InteractionChannel | None = None,
    occurred_from: From = None,
    occurred_to: To = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InteractionPage:
    items, next_cursor = svc.list_interactions(
        db,
        customer_id=customer_id,
        channel=channel,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        limit=limit,
        cursor=cursor,
        vault=privacy.vault,
    )
    return InteractionPage(items=items, next_cursor=next_cursor)
