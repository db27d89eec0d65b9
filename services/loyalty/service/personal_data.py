"""Everything loyalty holds about one person, for the personal-data export: the points account, every
ledger entry, the redemptions (with their vouchers), the event registrations with their events, the
inbox, the care tasks about the person, the campaign contacts (outreach), and who exported it before;
the export itself is written to the access log in the same transaction."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.db import Database
from services.common.personal_data import AccessRecord, record_export
from services.loyalty.models import (
    CareTask,
    CustomerEvent,
    EventRegistration,
    LedgerEntry,
    Notification,
    Outreach,
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
    notifications: list[Notification]
    care_tasks: list[CareTask]
    outreach: list[Outreach]
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
            notifications=_of(s, Notification, customer_id, Notification.id),
            care_tasks=_of(s, CareTask, customer_id, CareTask.created_at, CareTask.id),
            outreach=_of(s, Outreach, customer_id, Outreach.id),
            access=access,
        )
        s.commit()
        return held


def _of(s: Session, model: Any, customer_id: uuid.UUID, *order: Any) -> list[Any]:
    return list(s.execute(select(model).where(model.customer_id == customer_id).order_by(*order)).scalars())
