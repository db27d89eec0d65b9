"""What loyalty does when profile erases a customer (`customer.erased`). The account is frozen and
its ledger kept for accounting (points are a liability of the bank; balances must still reconcile),
under the customer id, which is a pseudonym once profile has erased the person. What staff typed about
the person goes: the reason on adjustments and other manual entries, also in approval requests. The
local copy of the customer's classes is deleted. The ledger is otherwise append-only; this is its one
update. docs/privacy.md."""

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.loyalty.models import CustomerSegment, LedgerEntry, approval


def erase_customer(s: Session, customer_id: uuid.UUID) -> None:
    """In the consumer's transaction, with the cursor's move past the event."""
    s.execute(
        update(LedgerEntry)
        .where(LedgerEntry.customer_id == customer_id, LedgerEntry.reason.is_not(None))  # type: ignore[union-attr]
        .values(reason=None)
    )
    s.execute(delete(CustomerSegment).where(CustomerSegment.customer_id == customer_id))
    held = s.execute(select(approval.c.id, approval.c.payload).where(approval.c.object_id == str(customer_id))).all()
    for approval_id, payload in held:
        s.execute(update(approval).where(approval.c.id == approval_id).values(payload={**payload, "reason": None}))
