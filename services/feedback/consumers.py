"""Event handlers that keep the local customer read model: profile's customer events (branch, region
type, customer type, status) and segmentation's segment.changed (the class per scheme), and the
copy of profile's organisation tree."""

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from services.common.branches import branch_handlers
from services.common.consumer import Handler
from services.common.db import table_of, upsert_insert
from services.common.outbox import Event
from services.feedback.models import CustomerRef, CustomerSegment, branch
from services.feedback.service.erasure import erase_customer

REF = table_of(CustomerRef)
SEGMENT = table_of(CustomerSegment)


def _registered(s: Session, e: Event) -> None:
    values = {
        "customer_id": e.subject_id,
        "customer_no": e.data.get("customer_no"),
        "customer_type": e.data.get("type"),
        "region_type": e.data.get("region_type"),
        "branch_code": e.data.get("branch_code"),
        "status": e.data.get("status") or "active",
        "updated_at": e.occurred_at,
    }
    stmt = upsert_insert(s)(REF).values(**values)
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id"], set_={k: v for k, v in values.items() if k != "customer_id"}
        )
    )


def _updated(s: Session, e: Event) -> None:
    changes = {k: e.data[k] for k in ("region_type", "branch_code") if k in e.data}
    if changes:
        s.execute(update(REF).where(REF.c.customer_id == e.subject_id).values(**changes, updated_at=e.occurred_at))


def _closed(s: Session, e: Event) -> None:
    s.execute(update(REF).where(REF.c.customer_id == e.subject_id).values(status="closed", updated_at=e.occurred_at))


def _erased(s: Session, e: Event) -> None:
    erase_customer(s, e.subject_id)


def _segment_changed(s: Session, e: Event) -> None:
    scheme, to_class = e.data.get("scheme"), e.data.get("to_class")
    if not scheme:
        return
    if to_class is None:
        s.execute(delete(SEGMENT).where(SEGMENT.c.customer_id == e.subject_id, SEGMENT.c.scheme == scheme))
        return
    stmt = upsert_insert(s)(SEGMENT).values(customer_id=e.subject_id, scheme=scheme, segment_class=to_class)
    s.execute(stmt.on_conflict_do_update(index_elements=["customer_id", "scheme"], set_={"segment_class": to_class}))


def profile_handlers() -> dict[str, Handler]:
    return {
        "customer.registered": _registered,
        "customer.updated": _updated,
        "customer.closed": _closed,
        "customer.erased": _erased,
        **branch_handlers(branch),
    }


def segmentation_handlers() -> dict[str, Handler]:
    return {"segment.changed": _segment_changed}
