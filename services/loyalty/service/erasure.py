"""What loyalty does when profile erases a customer (`customer.erased`). The account is frozen and
its ledger kept for accounting (points are a liability of the bank; balances must still reconcile),
under the customer id, which is a pseudonym once profile has erased the person. What staff typed about
the person goes: the reason on adjustments and other manual entries, also in approval requests. The
local copy of the customer's classes is deleted, and so are their inbox, care tasks and care record.
The ledger is otherwise append-only; this is its one update. docs/privacy.md."""

import uuid

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from services.common.approvals import redact as redact_approvals
from services.loyalty.models import CareCustomer, CareTask, CustomerSegment, LedgerEntry, Notification, approval


def erase_customer(s: Session, customer_id: uuid.UUID) -> None:
    """In the consumer's transaction, with the cursor's move past the event."""
    s.execute(
        update(LedgerEntry)
        .where(LedgerEntry.customer_id == customer_id, LedgerEntry.reason.is_not(None))  # type: ignore[union-attr]
        .values(reason=None)
    )
    s.execute(delete(CustomerSegment).where(CustomerSegment.customer_id == customer_id))
    redact_approvals(s, approval, [str(customer_id)])
    # The inbox and the care of the person go with them (their texts name what the person holds and does).
    s.execute(delete(Notification).where(Notification.customer_id == customer_id))
    s.execute(delete(CareTask).where(CareTask.customer_id == customer_id))
    s.execute(delete(CareCustomer).where(CareCustomer.customer_id == customer_id))
