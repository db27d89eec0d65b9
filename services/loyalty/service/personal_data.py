"""Everything loyalty holds about one person, for the personal-data export: the points account, every
ledger entry, the redemptions (with their vouchers), the event registrations with their events, and
who exported it before; the export itself is written to the access log in the same transaction."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from services.common.auth import Principal
from services.common.db import Database
from services.common.personal_data import AccessRecord, record_export
from services.loyalty.models import (
    CustomerEvent,
    EventRegistration,
    LedgerEntry,
    PointsAccount,
    Redemption,
    audit_chain,
    personal_data_access,
)
from services.loyalty.service.events import registrations_of


@dataclass(frozen=True)
class Holdings:
    account: PointsAccount | None
    entries: list[LedgerEntry]
    redemptions: list[Redemption]
    registrations: list[tuple[EventRegistration, CustomerEvent]]
    access: list[AccessRecord]


def export_customer(db: Database, *, customer_id: uuid.UUID, actor: Principal, now: datetime) -> Holdings:
    """Oldest first throughout; empty when loyalty does not know the customer."""
    with db.write() as s:
        access = record_export(
            s, personal_data_access, customer_id=str(customer_id), actor=actor, now=now, chain=audit_chain
        )
        held = Holdings(
            account=s.get(PointsAccount, customer_id),
            entries=list(
                s.execute(
                    select(LedgerEntry).where(LedgerEntry.customer_id == customer_id).order_by(LedgerEntry.id)
                ).scalars()
            ),
            redemptions=list(
                s.execute(
                    select(Redemption)
                    .where(Redemption.customer_id == customer_id)
                    .order_by(Redemption.created_at, Redemption.id)
                ).scalars()
            ),
            registrations=registrations_of(s, customer_id),
            access=access,
        )
        s.commit()
        return held
