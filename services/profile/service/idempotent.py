"""Idempotency-Key for creates under a customer: the stored answer is looked up and written inside
the same unit of work as the create, so a retry can never create twice."""

from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.profile.models import idempotency

M = TypeVar("M", bound=BaseModel)


def stored_answer(s: Session, idem: IdempotencyRequest | None) -> StoredResponse | None:
    """The first answer to this key (409 idempotency_key_reused when the body differs), or None."""
    return find_stored(s, idempotency, idem) if idem else None


def remember(s: Session, idem: IdempotencyRequest | None, status: int, view: M) -> M:
    if idem:
        store_response(s, idempotency, idem, status, view.model_dump(mode="json"))
    return view
