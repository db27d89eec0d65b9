"""Idempotency-Key for creates under a customer: the stored answer is looked up and written inside
the same unit of work as the create, so a retry can never create twice."""

from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.pii import PersonalDataVault
from services.profile.models import idempotency

M = TypeVar("M", bound=BaseModel)


IDEM_FIELD = "idempotency.response"


def stored_answer(
    s: Session, idem: IdempotencyRequest | None, *, vault: PersonalDataVault | None = None
) -> StoredResponse | None:
    """The first answer to this key (409 idempotency_key_reused when the body differs), or None;
    `vault`: the answer was stored sealed (remember)."""
    stored = find_stored(s, idempotency, idem) if idem else None
    if stored is None or vault is None:
        return stored
    return StoredResponse(stored.status_code, vault.unseal_document(stored.body, IDEM_FIELD))


def remember(
    s: Session, idem: IdempotencyRequest | None, status: int, view: M, *, vault: PersonalDataVault | None = None
) -> M:
    """Stores the answer for retries; `vault` seals it whole, for an answer that holds free text."""
    if idem:
        body = view.model_dump(mode="json")
        store_response(s, idempotency, idem, status, vault.seal_document(body, IDEM_FIELD) if vault else body)
    return view
