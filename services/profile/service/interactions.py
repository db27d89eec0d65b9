"""The interaction log: every contact with a customer, newest first, filtered by channel and time. Its
topic and summary are free text staff typed, personal data: encrypted at rest with the vault and read
back with the values inside masked (in full only in the person's own export)."""

import re
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict, InvalidInput
from services.common.idempotency import IdempotencyRequest, StoredResponse
from services.common.pagination import newest_first, page_of, time_id_key
from services.common.pii import PersonalDataVault, mask_text
from services.profile.models import Interaction
from services.profile.schemas.interactions import InteractionCreate, InteractionRead
from services.profile.service.guards import require_customer_row
from services.profile.service.idempotent import remember, stored_answer

CLOCK_SKEW = timedelta(minutes=5)
TOPIC_FIELD, SUMMARY_FIELD = "interaction.topic", "interaction.summary"
_BRANCH = re.compile(r"^[A-Z0-9]{4,16}$")


def record_interaction(
    db: Database,
    *,
    customer_id: uuid.UUID,
    interaction_in: InteractionCreate,
    actor: Principal,
    now: datetime,
    vault: PersonalDataVault,
    idem: IdempotencyRequest | None = None,
) -> InteractionRead | StoredResponse:
    """Closed customers may still be contacted (and the contact logged); erased ones may not (409)."""
    occurred_at = interaction_in.occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise InvalidInput([{"loc": ["body", "occurred_at"], "msg": "lies in the future", "type": "value_error"}])
    branch = interaction_in.branch_code or (actor.branch if actor.branch and _BRANCH.match(actor.branch) else None)
    with db.write() as s:
        if stored := stored_answer(s, idem, vault=vault):
            return stored
        row = require_customer_row(s, customer_id)
        if row.erased_at is not None:
            raise Conflict("The customer's personal data was erased", code="customer_erased")
        i = Interaction(
            customer_id=customer_id,
            channel=interaction_in.channel,
            direction=interaction_in.direction,
            topic=vault.seal(interaction_in.topic, TOPIC_FIELD),
            summary=vault.seal(interaction_in.summary, SUMMARY_FIELD),
            staff_id=actor.sub,
            branch_code=branch,
            occurred_at=occurred_at,
            recorded_at=now,
        )
        s.add(i)
        s.flush()
        view = remember(s, idem, 201, present_interaction(i, vault), vault=vault)
        s.commit()
        return view


def present_interaction(i: Interaction, vault: PersonalDataVault, *, full: bool = False) -> InteractionRead:
    """The interaction as read: topic and summary decrypted, the values inside masked unless `full`."""
    topic, summary = vault.unseal(i.topic, TOPIC_FIELD) or "", vault.unseal(i.summary, SUMMARY_FIELD) or ""
    read = InteractionRead.model_validate(i)
    if full:
        return read.model_copy(update={"topic": topic, "summary": summary})
    return read.model_copy(update={"topic": mask_text(topic), "summary": mask_text(summary)})


def list_interactions(
    db: Database,
    *,
    customer_id: uuid.UUID,
    channel: str | None,
    occurred_from: datetime | None,
    occurred_to: datetime | None,
    limit: int,
    cursor: str | None,
    vault: PersonalDataVault,
) -> tuple[list[InteractionRead], str | None]:
    """Newest first; `occurred_from` inclusive, `occurred_to` exclusive."""
    stmt = select(Interaction).where(Interaction.customer_id == customer_id)
    if channel:
        stmt = stmt.where(Interaction.channel == channel)
    if occurred_from:
        stmt = stmt.where(Interaction.occurred_at >= occurred_from)
    if occurred_to:
        stmt = stmt.where(Interaction.occurred_at < occurred_to)
    stmt = newest_first(stmt, Interaction.occurred_at, Interaction.id, cursor, limit)
    with db.read() as s:
        require_customer_row(s, customer_id)
        rows = [present_interaction(i, vault) for i in s.execute(stmt).scalars()]
    return page_of(rows, limit, key=time_id_key("occurred_at"))
